"""A real headless Chromium (Debian's `chromium` and `chromedriver`) driven with selenium.

selenium's calls block (they talk HTTP to chromedriver), so every call runs in a worker thread
while the gateway under test keeps serving on the event loop. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
WAIT = 20.0  # seconds any condition may take


def _start(width: int, height: int) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


class Browser:
    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    @classmethod
    async def open(cls, width: int = 1280, height: int = 900) -> Browser:
        return cls(await asyncio.to_thread(_start, width, height))

    async def run(self, job: Callable[[WebDriver], T]) -> T:
        return await asyncio.to_thread(job, self.driver)

    async def until(self, condition: Callable[[WebDriver], Any], what: str) -> Any:
        """Wait (bounded) until `condition(driver)` is truthy; its value."""

        def wait(driver: WebDriver) -> Any:
            waiting = WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
            return waiting.until(condition, f"timed out waiting for {what}")

        return await asyncio.to_thread(wait, self.driver)

    async def text(self, element_id: str) -> str:
        return await self.run(lambda d: d.find_element("id", element_id).text)

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        await self.run(lambda d: d.save_screenshot(str(path)))

    async def close(self) -> None:
        await asyncio.to_thread(self.driver.quit)
