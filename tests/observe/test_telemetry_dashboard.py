"""The dashboard's Sessions tab in a real headless Chromium, filled by the real Claude Code's telemetry.

Set BABELGATE_SCREENSHOTS=docs/img to refresh the screenshot the README shows."""

from __future__ import annotations

import os
from pathlib import Path

from selenium.webdriver.common.by import By

from tests.conftest import GatewayFactory
from tests.fakes.upstream import FakeUpstream
from tests.observe.browser import Browser
from tests.observe.test_dashboard_browser import browser  # noqa: F401  # the fixture
from tests.observe.test_telemetry import ADMIN, CLIENT, config, run_session


async def test_the_sessions_tab_shows_claude_codes_telemetry_beside_the_gateways_requests(
    upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("BABELGATE_SCREENSHOTS") or tmp_path)
    gw = await gateway_factory(config(upstream))
    await run_session(gw, upstream, tmp_path, "http/json")
    session_id = gw.gateway.sessions.listing()[0]["id"]

    await browser.run(lambda d: d.get(f"{gw.url}/dashboard"))
    await browser.run(lambda d: d.find_element(By.ID, "key").send_keys(ADMIN))
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "#login button").click())
    await browser.until(lambda d: d.find_element(By.ID, "overview").is_displayed(), "the overview")
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "button[data-tab=sessions]").click())
    row = f"#session-rows tr[data-session='{session_id}']"
    await browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, row), "the session's row")
    requests = await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, f"{row} td.requests").text)
    assert int(requests) == gw.gateway.sessions.listing()[0]["gateway"]["requests"] >= 1
    cost = await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, f"{row} td.cc-cost").text)
    assert cost.startswith("$") and float(cost[1:]) > 0  # what Claude Code itself reported
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, row).click())
    events = await browser.until(lambda d: d.find_element(By.ID, "session-events").text, "the session's events")
    assert "user_prompt" in events and "api_request" in events
    fields = await browser.run(lambda d: d.find_element(By.ID, "session-fields").text)
    assert "up/gpt-5" in fields and "Claude Code cost" in fields
    page = await browser.run(lambda d: d.find_element(By.ID, "sessions").text)
    assert CLIENT not in page and ADMIN not in page
    await browser.run(lambda d: d.execute_script("document.querySelector('#sessions table').scrollLeft = 0; window.scrollTo(0, 0)"))
    await browser.screenshot(shots / "dashboard-sessions.png")
