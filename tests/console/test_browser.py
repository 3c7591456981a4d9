"""The console in a real browser: Debian's headless Chromium driven by Selenium.

Each role signs in through the form and sees what it may; hospital IT triages an
incident through the form and the change is read back through the API; a hostile
explanation stays text (no script runs); failed sign-ins are refused once over the limit
until the (driven) clock moves on. Screenshots of the overview and an incident page go to
the test's folder, and to ``docs/`` with ``PHIWATCH_SCREENSHOTS=docs``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apikit import World
from browserkit import PATIENCE, full_page, sign_in, to_docs
from consolekit import HOSTILE_USER, PASSWORD, Clock, Console, serve
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from phiwatch.service import add_account


def texts(driver: Any, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def nav(driver: Any) -> list[str]:
    return [a.get_attribute("href").split("/console")[1]
            for a in driver.find_elements(By.CSS_SELECTOR, "header nav a")]


def no_alert(driver: Any) -> bool:
    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_each_role_signs_in_and_sees_what_it_may(browser: Any, sqlite_console: Console
                                                 ) -> None:
    c, d = sqlite_console, browser
    sign_in(d, c, "lan")
    assert d.current_url == f"{c.url}/console/"
    assert nav(d) == ["/", "/incidents", "/alerts", "/reports"]
    assert "CNTT bệnh viện · tu-du" in d.find_element(By.CSS_SELECTOR, ".who").text
    d.get(f"{c.url}/console/incidents")
    hospitals = set(texts(d, "#incidents tbody td:nth-child(3)"))
    assert hospitals == {"tu-du"}
    assert re.search(r"TD\d{8}", d.find_element(By.ID, "incidents").text)
    assert not d.find_elements(By.NAME, "hospital")  # no hospital filter for hospital IT

    sign_in(d, c, "minh")
    d.get(f"{c.url}/console/incidents")
    theirs = d.find_element(By.CSS_SELECTOR, "#incidents tbody tr").get_attribute("data-id")
    sign_in(d, c, "lan")
    d.get(f"{c.url}/console/incidents/{theirs}")
    assert d.find_element(By.TAG_NAME, "h1").text == "Không tìm thấy"

    sign_in(d, c, "thanh")
    assert nav(d) == ["/", "/incidents", "/alerts", "/reports", "/inbox"]
    d.get(f"{c.url}/console/incidents")
    assert set(texts(d, "#incidents tbody td:nth-child(3)")) == {"tu-du", "cho-ray",
                                                                 "nhi-dong-1"}
    d.find_element(By.CSS_SELECTOR, "#incidents tbody tr td.summary a").click()
    body = d.find_element(By.TAG_NAME, "body").text
    assert "BN-" in body and not re.search(r"(TD|CR|ND)\d{8}", body)
    assert not d.find_elements(By.ID, "status-form")
    assert d.find_elements(By.ID, "evidence-form")

    sign_in(d, c, "so")
    assert nav(d) == ["/", "/incidents", "/inbox"]
    d.get(f"{c.url}/console/incidents")
    assert d.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")
    assert not d.find_elements(By.CSS_SELECTOR, "#incidents tbody td.summary a")
    d.get(f"{c.url}/console/alerts")
    assert d.find_element(By.TAG_NAME, "h1").text == "Không được phép"

    sign_in(d, c, "root")
    assert d.current_url == f"{c.url}/console/rules"
    assert nav(d) == ["/rules"]
    assert len(d.find_elements(By.CSS_SELECTOR, "#rules tbody tr")) > 10
    d.find_element(By.LINK_TEXT, "English").click()
    assert d.find_element(By.TAG_NAME, "h1").text == "Detection rules"
    d.find_element(By.LINK_TEXT, "Tiếng Việt").click()


def test_triage_through_the_form_reads_back_through_the_api(browser: Any,
                                                           sqlite_console: Console) -> None:
    c, d = sqlite_console, browser
    sign_in(d, c, "lan")
    d.get(f"{c.url}/console/incidents?user=nv00003&status=new")
    row = d.find_element(By.CSS_SELECTOR, "#incidents tbody tr")
    incident = row.get_attribute("data-id")
    row.find_element(By.CSS_SELECTOR, "td.summary a").click()
    Select(d.find_element(By.ID, "to")).select_by_value("confirmed_leak")
    d.find_element(By.ID, "comment").send_keys("Đã xác minh: xuất 40 hồ sơ ra USB")
    d.find_element(By.ID, "change").click()
    WebDriverWait(d, PATIENCE).until(lambda dr: "done=status" in dr.current_url)
    assert d.find_element(By.CSS_SELECTOR, ".msg.ok").text == "Đã lưu trạng thái mới."
    assert d.find_element(By.ID, "status").text == "Xác nhận lộ lọt"
    got = c.api("lan").get(f"/incidents/{incident}").json()
    assert got["status"] == "confirmed_leak"
    assert got["history"][-1]["actor"] == "lan"
    assert got["history"][-1]["comment"] == "Đã xác minh: xuất 40 hồ sơ ra USB"
    activity = d.find_element(By.ID, "activity").text
    assert "lan" in activity and "Đã xác minh: xuất 40 hồ sơ ra USB" in activity


def test_a_hostile_explanation_stays_text(browser: Any, sqlite_console: Console) -> None:
    c, d = sqlite_console, browser
    for user in ("lan", "thanh"):
        sign_in(d, c, user)
        d.get(f"{c.url}/console/incidents?user={HOSTILE_USER}")
        d.find_element(By.CSS_SELECTOR, "#incidents td.summary a").click()
        explanation = d.find_element(By.CSS_SELECTOR, "article.alert .explanation").text
        assert "<script>alert('xss')</script>" in explanation
        assert "<img src=x onerror=alert(1)>" in explanation
        assert "{{ 7*7 }}" in explanation and "{% raw %}" in explanation
        assert "\\x1b[31mred" in explanation and "\\u202eevil" in explanation
        assert no_alert(d)
        assert d.execute_script("return document.scripts.length") == 0
        assert d.execute_script("return document.images.length") == 0


def test_failed_sign_ins_are_rate_limited(browser: Any, sqlite_world: World) -> None:
    # The clock starts an hour back so that moving it on still issues tokens python-jose
    # takes (it checks them against the real clock); the account is made on it.
    clock = Clock(-3600)
    c = serve(sqlite_world, {"signin_failures_per_account": 3,
                             "signin_failures_per_address": 6,
                             "signin_window_seconds": 600}, clock=clock)
    store = sqlite_world.open_store()
    try:
        add_account(store, "hanh", "hospital_it", "tu-du", PASSWORD,
                    now=datetime.fromtimestamp(clock(), UTC))
    finally:
        store.close()
    d = browser
    for _ in range(3):
        sign_in(d, c, "hanh", "not the password")
        assert d.find_element(By.CSS_SELECTOR, ".msg.error").text == \
            "Tên đăng nhập hoặc mật khẩu không đúng."
    sign_in(d, c, "hanh")  # the right password, but the name is over its limit
    assert "quá nhiều lần" in d.find_element(By.CSS_SELECTOR, ".msg.error").text
    assert "/console/login" in d.current_url
    clock.advance(601)
    sign_in(d, c, "hanh")
    assert d.current_url == f"{c.url}/console/"
    for name in ("a1", "a2", "a3", "a4", "a5", "a6"):
        sign_in(d, c, name, "guess")
    sign_in(d, c, "hanh")  # the address is over its limit, whichever the name
    assert "quá nhiều lần" in d.find_element(By.CSS_SELECTOR, ".msg.error").text


def test_screenshots(browser: Any, sqlite_console: Console, tmp_path: Path) -> None:
    c, d = sqlite_console, browser
    sign_in(d, c, "lan")
    d.get(f"{c.url}/console/incidents?user=nv00001")
    d.find_element(By.CSS_SELECTOR, "#incidents td.summary a").click()
    incident = d.current_url
    d.find_element(By.CSS_SELECTOR, "#note-form textarea").send_keys(
        "Đã liên hệ trưởng khoa Sản A; chờ danh sách ca trực.")
    d.find_element(By.CSS_SELECTOR, "#note-form button").click()
    WebDriverWait(d, PATIENCE).until(lambda dr: "done=note" in dr.current_url)
    Select(d.find_element(By.ID, "to")).select_by_value("investigating")
    d.find_element(By.ID, "comment").send_keys("Đang xác minh với khoa")
    d.find_element(By.ID, "change").click()
    WebDriverWait(d, PATIENCE).until(lambda dr: "done=status" in dr.current_url)
    sign_in(d, c, "thanh")
    full_page(d, tmp_path / "console-overview.png")
    d.get(incident.split("?")[0])
    full_page(d, tmp_path / "console-incident.png")
    for name in ("console-overview.png", "console-incident.png"):
        assert (tmp_path / name).stat().st_size > 20_000
        to_docs(tmp_path / name)


@pytest.fixture(autouse=True)
def _fresh_cookies(browser: Any) -> None:
    browser.delete_all_cookies()
