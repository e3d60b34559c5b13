"""The JavaScript client's own suite (``clients/js``, node's test runner) as part of
``make test``: each of its test files is one test here, run against real gateways the
Node side starts (``.venv``'s ``presence-gateway``), with a Redis database of its own for
the two-instance tests.

The package is built and type-checked once first (``npm run build``, ``npm run typecheck``:
``tsc`` over the sources and a typed usage file). The demo page's browser test, in
``test/browser``, is run by ``test_demo_page.py``.
"""

from __future__ import annotations

import pytest

from .js_package import PACKAGE, build, run_test_file

TEST_FILES = sorted(path.name for path in (PACKAGE / "test").glob("*.test.mjs"))


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    return build()


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_js_client(built: dict[str, str], redis_url: str, test_file: str) -> None:
    # No JS test may pass by being skipped (the two-instance ones need the Redis given here).
    run_test_file(test_file, {**built, "PRESENCE_TEST_REDIS_URL": redis_url})
