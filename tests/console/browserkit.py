"""Shared by the browser tests: signing in through the form, waiting for a page to
change, full-page screenshots, where screenshots go with ``PHIWATCH_SCREENSHOTS=docs``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from consolekit import PASSWORD, Console
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DOCS = Path(__file__).parents[2] / "docs"
#: How long a page may take to change after a click (a wait, not an assertion on time).
PATIENCE = 30


def sign_in(driver: Any, console: Console, user: str, password: str = PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(f"{console.url}/console/login")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    before = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "signin").click()
    WebDriverWait(driver, PATIENCE).until(lambda d: stale(before))


def stale(element: Any) -> bool:
    try:
        element.is_enabled()
    except Exception:
        return True
    return False


def full_page(driver: Any, path: Path) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1366, min(max(height, 800), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1366, 1000)


def to_docs(path: Path) -> None:
    """Copy a screenshot into docs/ when ``PHIWATCH_SCREENSHOTS=docs``."""
    if os.environ.get("PHIWATCH_SCREENSHOTS") == "docs":
        shutil.copy(path, DOCS / path.name)
