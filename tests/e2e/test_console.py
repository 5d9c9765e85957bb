"""The web console in a real headless Chromium (Debian's, driven by selenium),
against the whole stack: an agent opens a simulated customer, reads the
timeline and a decision's explanation, sees a suppression and its reason and
a new action arrive live; an operator sees lag, the policy version, dead
letters by code and the live streams.

``scripts/browser.sh`` installs chromium and chromium-driver (scripts/test.sh
runs it before this tier). With CONCIERGE_TEST_SCREENSHOTS=<dir> the test also
saves the screenshots docs/console.md shows.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.cli.stack import Stack
from services.simulator.journeys import events_at_rate
from services.simulator.publisher import publish_run
from tests.support.events import interaction
from tests.support.kafka_io import event_bytes, produce
from tests.support.stack import running_stack

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 60
# A tablet held upright, as a store associate holds it (one column below 900 px).
WINDOW = (820, 1180)
STALE = (StaleElementReferenceException, NoSuchElementException)


@pytest.fixture(scope="module")
async def console_settings(kafka_bootstrap: str) -> CommonSettings:
    settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"c{uuid.uuid4().hex[:8]}.",
        partitions=2,
    )
    report = await provision(settings)
    assert report.ok, report
    return settings


@pytest.fixture(scope="module")
def stack(
    console_settings: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(console_settings, tmp_path_factory.mktemp("console")) as running:
        yield running


def operator_key(stack: Stack, channel: str | None = None) -> str:
    """The local stack's all-channel key, or the key of ``channel``."""
    keys: dict[str, dict[str, str | None]] = json.loads(
        (stack.run_dir / "secrets" / "api-keys.json").read_text()
    )
    return next(key for key, grant in keys.items() if grant["channel"] == channel)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium, "no chromium: run scripts/browser.sh"
    assert driver, "no chromedriver: run scripts/browser.sh"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield session
    finally:
        session.quit()


def wait_for(browser: WebDriver, css: str, text: str | None = None) -> WebElement:
    """The first element matching ``css`` (holding ``text``, if given), within the deadline."""

    def found(_: WebDriver) -> WebElement | bool:
        for element in browser.find_elements(By.CSS_SELECTOR, css):
            if element.is_displayed() and (text is None or text in element.text):
                return element
        return False

    try:
        # A live view re-renders while it is read: an element found a moment ago
        # may be gone; look again.
        element = WebDriverWait(browser, WAIT_SECONDS, ignored_exceptions=STALE).until(found)
    except TimeoutException:
        shown = [element.text for element in browser.find_elements(By.CSS_SELECTOR, css)]
        raise AssertionError(f"{css} {text or ''} did not show; found {shown}") from None
    assert isinstance(element, WebElement)
    return element


def click(browser: WebDriver, css: str, attribute: str | None = None) -> str:
    """Clicks the first element matching ``css`` and returns its ``attribute``
    (or ""); found again if the view re-renders under it."""

    def clicked(_: WebDriver) -> str:
        element = wait_for(browser, css)
        value = element.get_attribute(attribute) if attribute else ""
        element.click()
        return value or " "

    try:
        value = WebDriverWait(browser, WAIT_SECONDS, ignored_exceptions=STALE).until(clicked)
    except TimeoutException:
        raise AssertionError(f"{css} could not be clicked") from None
    assert isinstance(value, str)
    return value.strip()


def open_newest_decision(browser: WebDriver, text: str | None = None) -> str:
    """Opens the explanation of the timeline's newest decision (holding ``text``,
    if given) and returns what it shows; tried again while the timeline re-renders."""

    def opened(_: WebDriver) -> str | bool:
        decision = next(
            item
            for item in browser.find_elements(By.CSS_SELECTOR, "#timeline li.decision")
            if item.is_displayed()
        )
        details = decision.find_element(By.TAG_NAME, "details")
        if details.get_attribute("open") is None:
            details.find_element(By.TAG_NAME, "summary").click()
        if not decision.find_element(By.CSS_SELECTOR, "table.candidates").is_displayed():
            return False
        shown = decision.text
        return shown if text is None or text in shown else False

    try:
        shown = WebDriverWait(
            browser, WAIT_SECONDS, ignored_exceptions=(*STALE, StopIteration)
        ).until(opened)
    except TimeoutException:
        raise AssertionError(f"no decision {text or ''} could be opened") from None
    assert isinstance(shown, str)
    return shown


def screenshot(browser: WebDriver, name: str) -> None:
    folder = os.environ.get("CONCIERGE_TEST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(WINDOW[0], max(WINDOW[1], int(height)))  # the whole page
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(Path(folder) / name))
        browser.set_window_size(*WINDOW)


def sign_in(browser: WebDriver, stack: Stack, channel: str | None = None) -> None:
    browser.get(f"{stack.url('gateway')}/console/")
    wait_for(browser, "#api-key").send_keys(operator_key(stack, channel))
    browser.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    wait_for(browser, "#nav-customers")
    assert operator_key(stack, channel) not in browser.current_url


async def send(settings: CommonSettings, *events: dict[str, object]) -> None:
    names = TopicNames(settings.topic_prefix)
    for event in events:
        topic = names.interactions(str(event["channel"]))
        await produce(settings, [(topic, None, event_bytes(event))])


async def test_an_agent_follows_a_simulated_customer_live(
    stack: Stack, console_settings: CommonSettings, browser: WebDriver
) -> None:
    sign_in(browser, stack)
    Select(wait_for(browser, "#channel")).select_by_value("web")
    wait_for(browser, "#customers-view")
    # The demo's simulator publishes while the agent watches who is active.
    await publish_run(console_settings, events_at_rate(30, 11, 150.0, 3.0))
    customer_id = click(browser, "#active-customers a[data-customer^='cust-']", "data-customer")
    assert customer_id.startswith("cust-")

    wait_for(browser, "#customer-title", customer_id)
    wait_for(browser, "#consent tr[data-purpose='marketing']")
    assert "policy" in open_newest_decision(browser)

    # The customer withdraws marketing consent: the suppression shows, with why.
    identity = {"customer_id": customer_id}
    withdraw = {"purpose": "marketing", "granted": False}
    await send(console_settings, interaction("consent_updated", "web", identity, withdraw))
    wait_for(browser, "#suppressions li[data-reason='consent_withdrawn']", "consent")
    wait_for(browser, "#timeline li.suppression", "consent_withdrawn")

    # Then gives up at checkout twice: help arrives on the agent's screen live.
    failed = {"reason": "card_declined"}
    await send(
        console_settings,
        interaction("checkout_failed", "web", identity, failed),
        interaction("checkout_failed", "web", identity, failed),
    )
    wait_for(browser, "#live-actions li.live-action", "checkout failed")
    wait_for(browser, "#nba .nba-action, #nba .nba-none")  # asked again after the action
    # The agent's briefing says what not to pitch, and why.
    wait_for(browser, "#nba .briefing", "no_consent")
    open_newest_decision(browser, "checkout")  # the timeline was refreshed
    screenshot(browser, "console-customer.png")


async def test_an_operator_watches_lag_dead_letters_and_live_streams(
    stack: Stack, console_settings: CommonSettings, browser: WebDriver
) -> None:
    names = TopicNames(console_settings.topic_prefix)
    await produce(console_settings, [(names.interactions("web"), None, b"{not json")])
    sign_in(browser, stack)
    Select(wait_for(browser, "#channel")).select_by_value("web")
    click(browser, "#nav-operations")
    version = wait_for(browser, "#policy-version").text
    assert version not in {"", "unknown"}
    wait_for(browser, "#status tr[data-stage='intake']")
    wait_for(browser, "#status tr[data-stage='decision']")
    wait_for(browser, "#dead-letters tr[data-code='invalid_json']")
    await publish_run(console_settings, events_at_rate(30, 12, 150.0, 2.0))
    wait_for(browser, "#ops-actions li")
    identity = {"customer_id": f"C-{uuid.uuid4().hex[:8]}"}
    await send(
        console_settings,
        interaction("consent_updated", "web", identity, {"purpose": "marketing", "granted": True}),
        interaction("consent_updated", "web", identity, {"purpose": "marketing", "granted": False}),
    )
    wait_for(browser, "#ops-suppressions li", "consent_withdrawn")
    screenshot(browser, "console-operations.png")

    # Replay: the letter goes back to interactions.web (and is rejected again).
    click(browser, "#dead-letters tr[data-code='invalid_json'] button")
    browser.switch_to.alert.accept()
    wait_for(browser, "#replay-result", "1 replayed")


def test_a_store_key_sees_its_channel_only(stack: Stack, browser: WebDriver) -> None:
    sign_in(browser, stack, "store")
    assert not browser.find_element(By.CSS_SELECTOR, "#nav-operations").is_displayed()
    Select(wait_for(browser, "#channel")).select_by_value("phone")
    wait_for(browser, "#stream-problem", "refused")
    wait_for(browser, "#stream-problem", "store")
