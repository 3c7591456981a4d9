"""Reports in a real browser (Debian's headless Chromium driven by Selenium): hospital IT
confirms a leak, reads the drafts' section and approves them through the form; the API
reads back the issued reports and the reported incident; after the run loop's delivery
the page shows what was delivered and what failed, with its retry button. The incident
page with its reports section is saved to the test's folder, and to
``docs/console-reports.png`` with ``PHIWATCH_SCREENSHOTS=docs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import PATIENCE, sign_in, to_docs
from consolekit import Console
from consolereports import COMMENT, ReportWorld
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportWorld]:
    w = ReportWorld("sqlite", tmp_path_factory.mktemp("console-reports-browser"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def console(world: ReportWorld) -> Console:
    return world.serve_console()


def rows(driver: Any) -> list[tuple[str, str]]:
    return [(r.get_attribute("data-report"), r.get_attribute("data-state"))
            for r in driver.find_elements(By.CSS_SELECTOR, "#report-list tbody tr")]


def test_hospital_it_approves_through_the_form(browser: Any, console: Console,
                                             world: ReportWorld, tmp_path: Path) -> None:
    c, d = console, browser
    incident = world.incidents["browser"]
    sign_in(d, c, "lan")
    d.get(f"{c.url}/console/incidents/{incident}")
    assert d.find_element(By.CSS_SELECTOR, "#clock .clock").text == "Trong hạn 72 giờ"
    assert not d.find_elements(By.ID, "approve-form")
    Select(d.find_element(By.ID, "to")).select_by_value("confirmed_leak")
    d.find_element(By.ID, "comment").send_keys("Đã xác minh: xuất 500 hồ sơ sản khoa")
    d.find_element(By.ID, "change").click()
    WebDriverWait(d, PATIENCE).until(lambda dr: "done=status" in dr.current_url)
    assert [s for _, s in rows(d)] == ["draft", "draft"]
    kinds = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#report-list tbody td:first-child")]
    assert kinds == ["Báo cáo gửi Sở Y tế", "Thông báo vi phạm gửi Bộ Công an"]
    assert not d.find_elements(By.ID, "delay-reason")          # on time: no reason asked

    d.find_element(By.ID, "approve-comment").send_keys(COMMENT)
    d.find_element(By.ID, "approve").click()
    WebDriverWait(d, PATIENCE).until(lambda dr: "done=approve" in dr.current_url)
    assert d.find_element(By.CSS_SELECTOR, ".msg.ok").text.startswith("Đã duyệt")
    assert d.find_element(By.CSS_SELECTOR, "#clock .clock").text == "Đã gửi đúng hạn"
    assert d.find_element(By.ID, "status").text == "Đã báo cáo"
    api = c.api("lan")
    issued = api.get(f"/incidents/{incident}/reports").json()
    assert [(x["state"], x["issued_by"]) for x in issued] == [("issued", "lan")] * 2
    got = api.get(f"/incidents/{incident}").json()
    assert (got["status"], got["clock"]) == ("reported", "sent")
    numbers = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#report-list td.number")]
    assert numbers == [x["number_text"] for x in issued]

    world.deliver()                                   # what the run loop does next
    d.get(f"{c.url}/console/incidents/{incident}")
    assert [s for _, s in rows(d)] == ["delivered", "failed"]
    assert len(d.find_elements(By.CSS_SELECTOR, ".retry-form button")) == 1
    assert d.execute_script("return document.scripts.length") == 0
    shot = tmp_path / "console-reports.png"
    d.execute_script("window.scrollTo(0, 0)")
    d.set_window_size(1366, 1150)
    d.save_screenshot(str(shot))
    d.set_window_size(1366, 1000)
    assert shot.stat().st_size > 20_000
    to_docs(shot)


@pytest.fixture(autouse=True)
def _fresh_cookies(browser: Any) -> None:
    browser.delete_all_cookies()
