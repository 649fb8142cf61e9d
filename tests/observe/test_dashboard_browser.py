"""The dashboard in a real headless Chromium against a gateway serving live traffic: log in, watch the
counters and a chart move, see a credential cool down and its countdown tick, open a request's route trace.

Set BABELGATE_SCREENSHOTS=docs/img to refresh the screenshots the README shows."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.observe.browser import Browser
from tests.observe.test_observe import ADMIN, CLIENT, UPSTREAM_KEYS, config


def script(limited: asyncio.Event) -> object:
    def reply(record: Received) -> Reply:
        if limited.is_set() and record.headers["authorization"] == f"Bearer {UPSTREAM_KEYS[0]}":
            return wire.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"Retry-After": "40"})
        return Reply(json=wire.completion("Hello!", prompt=300, completion_tokens=40))

    return reply


async def traffic(url: str, count: int) -> None:
    payload = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession(headers={"x-api-key": CLIENT}) as session:
        for _ in range(count):
            async with session.post(f"{url}/v1/messages", json=payload) as response:
                assert response.status == 200


@pytest.fixture
async def browser() -> object:
    opened = await Browser.open()
    yield opened
    await opened.close()


async def test_the_dashboard_follows_live_traffic(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, browser: Browser, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("BABELGATE_SCREENSHOTS") or tmp_path)
    limited = asyncio.Event()
    upstream.script = script(limited)  # type: ignore[assignment]
    gw = await gateway_factory(config(upstream, capture="errors"))
    await traffic(gw.url, 3)
    await gw.gateway.sync()

    await browser.run(lambda d: d.get(f"{gw.url}/dashboard"))
    assert await browser.run(lambda d: d.execute_script("return location.pathname")) == "/dashboard"
    await browser.run(lambda d: d.find_element(By.ID, "key").send_keys("wrong-key-000000"))
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "#login button").click())
    await browser.until(lambda d: d.find_element(By.ID, "login-error").is_displayed(), "the refusal")
    await browser.run(lambda d: d.find_element(By.ID, "key").clear())
    await browser.run(lambda d: d.find_element(By.ID, "key").send_keys(ADMIN))
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "#login button").click())
    await browser.until(lambda d: d.find_element(By.ID, "overview").is_displayed(), "the overview")
    await browser.until(lambda d: d.find_element(By.ID, "stat-requests").text == "3", "the first three requests")
    assert ADMIN not in await browser.run(lambda d: d.current_url)  # the key never goes in a URL
    assert await browser.run(lambda d: d.execute_script("return sessionStorage.getItem('babelgate-admin-key')")) == ADMIN
    before = await browser.run(lambda d: d.find_element(By.ID, "chart-requests").get_attribute("data-total"))

    await traffic(gw.url, 4)  # live: no reload
    await browser.until(lambda d: d.find_element(By.ID, "stat-requests").text == "7", "the counter to follow")
    after = await browser.run(lambda d: d.find_element(By.ID, "chart-requests").get_attribute("data-total"))
    assert (before, after) == ("3", "7")
    await browser.until(lambda d: d.find_element(By.ID, "live").get_attribute("class").endswith("on"), "the live badge")
    await browser.screenshot(shots / "dashboard-overview.png")

    limited.set()  # the first key starts answering 429 with Retry-After: 40
    await traffic(gw.url, 2)
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "button[data-tab=providers]").click())
    cooling = re.compile(r"rate_limit (\d+)s")
    cell = "tr[data-credential='up#0'] td.cooldown"
    first = await browser.until(lambda d: cooling.search(d.find_element(By.CSS_SELECTOR, cell).text), "up#0 to cool down")
    seconds = int(first.group(1))
    assert 30 <= seconds <= 40

    def lower(d: Any) -> Any:
        match = cooling.search(d.find_element(By.CSS_SELECTOR, cell).text)
        return match if match and int(match.group(1)) < seconds else None

    ticked = await browser.until(lower, "the countdown to tick")
    assert int(ticked.group(1)) < seconds
    shown = await browser.until(lambda d: d.find_element(By.ID, "provider-rows").text, "the credentials")
    assert "up#0" in shown and UPSTREAM_KEYS[0] not in shown
    await browser.screenshot(shots / "dashboard-providers.png")

    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "button[data-tab=requests]").click())
    rows = "#request-rows tr"
    await browser.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) >= 9, "every request in the table")
    failover = "#request-rows tr:first-child"  # the newest: the one that failed over
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, failover).click())
    trace = await browser.until(lambda d: d.find_element(By.ID, "detail-trace").text, "the route trace")
    lines = trace.splitlines()
    assert lines[0].startswith("up/gpt-5 via up#0: 429 rate_limit")
    assert lines[-1] == "up/gpt-5 via up#1: served 200"
    await browser.screenshot(shots / "dashboard-request.png")

    await browser.run(lambda d: Select(d.find_element(By.CSS_SELECTOR, "#filters select")).select_by_value("4"))
    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "#filters button").click())
    await browser.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == 0, "the 4xx filter (none failed for the client)")

    await browser.run(lambda d: d.find_element(By.CSS_SELECTOR, "button[data-tab=config]").click())
    config_text = await browser.until(lambda d: d.find_element(By.ID, "config-text").text, "the config")
    assert "up" in config_text and all(secret not in config_text for secret in (*UPSTREAM_KEYS, CLIENT, ADMIN))


async def test_the_dashboard_fits_a_narrow_screen(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = script(asyncio.Event())  # type: ignore[assignment]
    gw = await gateway_factory(config(upstream))
    await traffic(gw.url, 1)
    phone = await Browser.open(390, 844)
    try:
        await phone.run(lambda d: d.get(f"{gw.url}/dashboard"))
        await phone.run(lambda d: d.find_element(By.ID, "key").send_keys(ADMIN))
        await phone.run(lambda d: d.find_element(By.CSS_SELECTOR, "#login button").click())
        await phone.until(lambda d: d.find_element(By.ID, "stat-requests").text == "1", "the overview")
        overflow = await phone.run(lambda d: d.execute_script("return document.documentElement.scrollWidth - window.innerWidth"))
        assert overflow <= 0  # wide tables scroll inside themselves, the page does not
    finally:
        await phone.close()
