"""Headless Chromium for the e2e tests: Debian's ``chromium`` driven through its
``chromedriver`` by Selenium, with paths given so nothing is ever downloaded.

Without a browser the browser tests are skipped, naming what to install, except on CI
(``CI=true``), where a skip would hide a missing install step: there they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from presence_gateway.entrypoints.http.demo_page import CLIENT_DIST, CLIENT_SCRIPT

INSTALL = "apt-get install chromium chromium-driver"
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


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing_or_skip(missing: list[str]) -> None:
    if not missing:
        return
    message = "the browser test needs " + "; ".join(missing)
    if _on_ci():
        pytest.fail(message + " (CI must run it: .ci/run installs them)", pytrace=False)
    pytest.skip(message)


def _first(*candidates: str) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else None)
        if found:
            return found
    return None


def chromium_paths() -> tuple[str, str]:
    """The browser and its driver, or a skip (a failure on CI) naming what to install."""
    browser = _first("chromium", "chromium-browser", "/usr/lib/chromium/chromium")
    driver = _first("chromedriver", "/usr/lib/chromium/chromedriver")
    missing = []
    if browser is None:
        missing.append(f"Chromium ({INSTALL})")
    if driver is None:
        missing.append(f"its driver ({INSTALL})")
    if not (CLIENT_DIST / CLIENT_SCRIPT).is_file():
        missing.append("the Socket.IO client of the demo page (install Node.js and npm; `make test` runs npm ci)")
    missing_or_skip(missing)
    return browser, driver  # type: ignore[return-value]


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
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


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
