"""The demo page in a real browser: headless Chromium, two windows as two users, a real
gateway process. Screenshots land in ``test-artefacts/demo-page/``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import socketio

from .browser import ARTEFACTS, start_chromium, wait_until
from .clients import token_for
from .gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

STATUSES_FILE = Path(__file__).resolve().parents[2] / "examples" / "statuses.toml"
SHOTS = ARTEFACTS / "demo-page"


class Page:
    """One browser window showing the demo page, as one user."""

    def __init__(self, driver, handle: str) -> None:
        self.driver = driver
        self.handle = handle

    def show(self) -> Page:
        self.driver.switch_to.window(self.handle)
        return self

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def type_and_enter(self, selector: str, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        field = self.css(selector)
        field.clear()
        field.send_keys(text, Keys.ENTER)  # the keyboard alone, as the forms allow

    def sign_in(self, user_id: str) -> None:
        self.type_and_enter("#user-id", user_id)
        self.wait_connection("connected")

    def connection(self) -> str:
        return self.css("#connection").get_attribute("data-state")

    def wait_connection(self, state: str, timeout: float = 10.0) -> None:
        wait_until(self.driver, lambda: self.connection() == state, f"the connection {state}", timeout)

    def row(self, user_id: str):
        return self.css(f'#watch-list li[data-user-id="{user_id}"]')

    def wait_row(self, user_id: str, status: str, timeout: float = 10.0) -> None:
        def shown() -> bool:
            row = self.row(user_id)
            return row.get_attribute("data-status") == status and row.find_element("css selector", ".status-text").text == status

        wait_until(self.driver, shown, f"{user_id} as {status}", timeout)

    def devices(self, user_id: str) -> dict[str, str]:
        """The device icons of a watched user: device kind → its state."""
        icons = self.row(user_id).find_elements("css selector", ".devices .device")
        return {icon.get_attribute("data-device"): icon.get_attribute("data-state") for icon in icons}

    def custom_status(self, user_id: str) -> tuple[str, str, str] | None:
        """(emoji, text, until) as the row shows them, None while it shows none."""
        custom = self.row(user_id).find_element("css selector", ".custom")
        if not custom.is_displayed():
            return None
        part = lambda name: custom.find_element("css selector", f".custom-{name}").text  # noqa: E731
        return part("emoji"), part("text"), part("until")

    def set_custom_status(self, text: str, emoji: str = "", minutes: str = "") -> None:
        for field, value in (("#custom-text", text), ("#custom-emoji", emoji), ("#custom-minutes", minutes)):
            self.css(field).clear()
            self.css(field).send_keys(value)
        self.css("#custom-form button[type=submit]").click()

    def choose(self, status: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.css("#my-status")).select_by_value(status)
        self.css("#status-form button[type=submit]").click()

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def console_errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


def open_page(driver, url: str, user_id: str, pages: list[Page], new_window: bool = True) -> Page:
    """The demo page in a window of its own, signed in as ``user_id``."""
    if new_window:
        driver.switch_to.new_window("window")
    page = Page(driver, driver.current_window_handle)
    pages.append(page)
    driver.get(url + "/")
    page.sign_in(user_id)
    return page


@pytest.fixture
def browser(tmp_path: Path):
    driver = start_chromium(tmp_path / "profile")
    yield driver
    driver.quit()


def test_a_watcher_sees_dnd_then_offline_and_keeps_watching_across_a_gateway_restart(tmp_path: Path, browser) -> None:
    gateway = GatewayProcess(
        tmp_path / "gateway",
        PRESENCE_OFFLINE_GRACE="1",
        PRESENCE_SWEEP_INTERVAL="0.1",
        PRESENCE_STATUSES_FILE=str(STATUSES_FILE),
    ).start()
    shutil.rmtree(SHOTS, ignore_errors=True)  # this run's screenshots only
    pages: list[Page] = []
    try:
        alice = open_page(browser, gateway.url, "alice", pages, new_window=False)
        # Every status the registry lets a user choose, the statuses file's included.
        options = [option.get_attribute("value") for option in alice.all("#my-status option")]
        assert options == ["ONLINE", "OFFLINE", "IDLE", "DND", "INVISIBLE", "STREAMING", "IN_CALL"]

        bob = open_page(browser, gateway.url, "bob", pages)

        alice.show()
        alice.type_and_enter("#watch-id", "bob")
        alice.type_and_enter("#watch-id", "carol")  # never seen
        alice.wait_row("bob", "ONLINE")
        alice.wait_row("carol", "OFFLINE")
        assert alice.row("bob").find_element("css selector", ".last-seen").text == "online now"
        assert alice.row("carol").find_element("css selector", ".last-seen").text == "last seen: not known"
        assert alice.devices("bob") == {"web": "ONLINE"}
        assert (alice.devices("carol"), alice.custom_status("carol")) == ({}, None)

        # Bob's phone joins, then goes idle: an icon per device, bob still ONLINE.
        phone = socketio.SimpleClient()
        phone.connect(gateway.url, auth={"token": token_for("bob"), "device": "mobile"}, transports=["websocket"])
        try:
            wait_until(browser, lambda: alice.devices("bob") == {"mobile": "ONLINE", "web": "ONLINE"}, "bob's phone")
            assert phone.call("presence:update", {"status": "IDLE"}) == {"ok": True}
            wait_until(browser, lambda: alice.devices("bob") == {"mobile": "IDLE", "web": "ONLINE"}, "bob's idle phone")
            alice.wait_row("bob", "ONLINE")
            icons = alice.row("bob").find_elements("css selector", ".devices img.device")
            assert all(int(icon.get_attribute("naturalWidth")) > 0 for icon in icons)  # served, and the policy allows them

            bob.show()
            bob.set_custom_status("out for lunch", "☕", "30")
            alice.show()
            wait_until(browser, lambda: alice.custom_status("bob") is not None, "bob's custom status")
            emoji, text, until = alice.custom_status("bob")
            assert (emoji, text) == ("☕", "out for lunch") and until.startswith("until ")
            alice.shot("0-devices-and-custom-status")
        finally:
            phone.disconnect()
        wait_until(browser, lambda: alice.devices("bob") == {"web": "ONLINE"}, "bob's phone gone")

        bob.show()
        bob.choose("DND")
        wait_until(browser, lambda: bob.css("#me-presence").get_attribute("data-status") == "DND", "bob's own DND")

        alice.show()
        alice.wait_row("bob", "DND")
        alice.shot("1-watching-dnd")

        bob.show()
        browser.close()  # bob's only window: his socket closes with it
        pages.remove(bob)
        alice.show()
        alice.wait_row("bob", "OFFLINE")
        last_seen = alice.row("bob").find_element("css selector", ".last-seen")
        assert last_seen.text.startswith("last seen ")
        assert last_seen.find_element("css selector", "time").get_attribute("datetime").endswith("Z")
        # Nothing of an offline user's devices or custom status is shown.
        assert (alice.devices("bob"), alice.custom_status("bob")) == ({}, None)
        alice.shot("2-offline-after-grace")
        assert alice.console_errors() == []

        gateway.stop()
        alice.wait_connection("reconnecting")
        alice.shot("3-reconnecting")
        gateway.start()
        wait_until(
            browser, lambda: alice.css("#connection").get_attribute("data-connections") == "2", "a second connection", 30
        )
        alice.wait_connection("connected")

        # Only a watch list sent again after the reconnect hears bob come back, still DND.
        bob = open_page(browser, gateway.url, "bob", pages)
        alice.show()
        alice.wait_row("bob", "DND")
        # The custom status is kept like the remembered status, across the restart.
        wait_until(browser, lambda: alice.custom_status("bob") is not None, "bob's custom status again")
        assert alice.custom_status("bob")[:2] == ("☕", "out for lunch")
        assert alice.devices("bob") == {"web": "ONLINE"}
        alice.shot("4-reconnected-still-watching")
    except BaseException:
        for page in pages:
            page.show().shot(f"failure-{pages.index(page)}")
        raise
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log(), gateway.log()


def test_in_production_the_page_asks_for_a_token_and_signs_in_as_its_user(tmp_path: Path, browser) -> None:
    gateway = GatewayProcess(tmp_path / "gateway", PRESENCE_ENV="production", PRESENCE_DEMO="1").start()
    try:
        page = Page(browser, browser.current_window_handle)
        browser.get(gateway.url + "/")
        assert page.css("#token").is_displayed()  # no token endpoint to ask

        page.css("#token").send_keys(token_for("dave"))
        page.type_and_enter("#user-id", "someone-else")
        page.wait_connection("connected")

        assert page.css("#connection").text == "Connected as dave"
        assert page.css("#me-id").text == "dave"
        assert page.console_errors() == []
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log(), gateway.log()
