"""The demo page in a real browser: headless Chromium (Debian's ``chromium``, never a
browser download) driven by playwright-core from ``clients/js/test/browser``, two users
in browser contexts of their own against real gateway processes. Screenshots land in
``test-artefacts/demo-page/``.

Without Chromium the test is skipped naming ``apt-get install -y chromium``, and fails
where tools are required (CI).
"""

from __future__ import annotations

import pytest

from presence_gateway.entrypoints.http.demo_page import CLIENT_DIST, CLIENT_MODULE
from tests.support import outside_tools

from .js_package import build, run_test_file

pytestmark = pytest.mark.e2e


def test_the_demo_page_in_chromium() -> None:
    """A watcher sees another user's device icons (a phone joining, then idle) and custom
    status, the dot go DND, then OFFLINE with a last-seen time and nothing of devices or
    custom status, and keeps watching across a gateway restart, the custom status kept; a
    production gateway's page signs in with a pasted token."""
    browser = outside_tools.need(outside_tools.CHROMIUM, "chromium", "chromium-browser", "/usr/lib/chromium/chromium")
    if not (CLIENT_DIST / CLIENT_MODULE).is_file():
        outside_tools.missing(outside_tools.DEMO_CLIENT)
    env = build("playwright-core")
    run_test_file("browser/demo-page.test.mjs", {**env, "PRESENCE_CHROMIUM": browser})
