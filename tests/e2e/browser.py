"""Headless Chromium for the e2e tests: Debian's ``chromium`` driven through its
``chromedriver`` by Selenium, with paths given so nothing is ever downloaded.

Without a browser the browser tests are skipped, naming what to install, except where
``PRESENCE_TEST_REQUIRE_TOOLS=1`` (CI): there they fail (tests/support/outside_tools.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from presence_gateway.entrypoints.http.demo_page import CLIENT_DIST, CLIENT_SCRIPT
from tests.support import outside_tools, processes

# Where the browser tests leave their screenshots (gitignored; CI may keep it).
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=960,720",
)


def chromium_paths() -> tuple[str, str]:
    """The browser and its driver, or a skip (a failure where tools are required) naming
    what to install, once."""
    browser = outside_tools.find("chromium", "chromium-browser", "/usr/lib/chromium/chromium")
    driver = outside_tools.find("chromedriver", "/usr/lib/chromium/chromedriver")
    if browser is None or driver is None:
        outside_tools.missing(outside_tools.CHROMIUM)
    if not (CLIENT_DIST / CLIENT_SCRIPT).is_file():
        outside_tools.missing(outside_tools.DEMO_CLIENT)
    return browser, driver


def start_chromium(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Both paths are given, so Selenium never looks for (or fetches) a browser of its own.
    os.environ.setdefault("SE_OFFLINE", "true")
    # chromedriver in a session of its own: stopped with the browsers it started.
    service = Service(executable_path=driver, popen_kw={"start_new_session": True})
    chrome = webdriver.Chrome(options=options, service=service)
    processes.track(service.process, group=True)
    return chrome


def wait_until(driver, condition: Callable[[], object], what: str, timeout: float = 10.0) -> object:
    """Until the page shows ``condition``, re-checked every 50 ms, at most ``timeout`` s."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda _: condition()
        )
    except TimeoutException:
        raise AssertionError(f"the page did not show {what} within {timeout}s") from None
