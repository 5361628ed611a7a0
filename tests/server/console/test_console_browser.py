"""The console in a real browser (issue 13, item 5: "Tested in headless Chromium ...: log
in, add a clocking in the person-day view, see its total change and the call appear in
the request log"), on both databases (PostgreSQL with two workers).

Debian's ``chromium`` driven by Debian's ``chromium-driver`` (``make system-deps``
installs both) through Selenium, with every host but 127.0.0.1 made unresolvable: the
page works only if everything it loads comes from this server. Without the browser or
its driver this fails under CI=true and is skipped elsewhere.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import IN_CI

from .conftest import API, Sandbox

WAIT_SECONDS = 60  # a bound for a loaded machine, not a measurement


def _browser_and_driver() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    found = _browser_and_driver()
    if found is None:
        message = "the browser test needs chromium and chromium-driver (make system-deps)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        # No network: every host but the server's own address fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_text(driver: WebDriver, css: str, text: str) -> None:
    """Until an element ``css`` shows ``text`` (a page being replaced meanwhile is retried)."""
    WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, css))
    )


def set_value(driver: WebDriver, css: str, value: str) -> None:
    """Date and time inputs take typed keys in the browser's locale's order; setting the
    value is what a date picker does."""
    field = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script("arguments[0].value = arguments[1];", field, value)


def paid_presence(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, "#paid-presences tbody").text)


def add_clocking(driver: WebDriver, time: str) -> None:
    set_value(driver, "#clocking-time", time)
    Select(driver.find_element(By.ID, "clocking-kind")).select_by_value("InOut")
    driver.find_element(By.ID, "add").click()
    wait_for_text(driver, "#clockings td.time", time)  # the page after the redirect


def test_log_in_add_a_clocking_and_see_its_total_change(
    browser: webdriver.Chrome, sandbox: Sandbox
) -> None:
    person, date = 5, dt.date(2026, 1, 28)  # a day the seed left empty
    base = sandbox.server.base_url
    browser.delete_all_cookies()
    browser.get(f"{base}/console")
    assert "/console/login" in browser.current_url  # no session yet
    browser.find_element(By.ID, "name").send_keys(sandbox.operator.name)
    browser.find_element(By.ID, "password").send_keys(sandbox.operator.password)
    browser.find_element(By.ID, "login").click()
    wait_for_text(browser, "h1", "Tenants")

    # The person-day view, picked as an operator does: tenant, person, date.
    browser.find_element(By.LINK_TEXT, "person-day").click()
    wait_for_text(browser, "h1", "Person-day")
    Select(browser.find_element(By.ID, "pick-person")).select_by_value(str(person))
    set_value(browser, "#pick-date", date.isoformat())
    browser.find_element(By.ID, "show-day").click()
    wait_for_text(browser, "#clockings h2", f"person {person} on {date}")
    assert paid_presence(browser) == "None."

    # The page's script (served by the console, under its CSP) shows the kind's fields.
    reason = browser.find_element(By.ID, "clocking-reason")
    assert not reason.is_displayed()
    Select(browser.find_element(By.ID, "clocking-kind")).select_by_value("Reason")
    assert reason.is_displayed()

    add_clocking(browser, "08:00")
    add_clocking(browser, "16:30")
    wait_for_text(browser, ".notice", "added")
    after = paid_presence(browser)
    assert after != "None." and ":" in after, after

    with sandbox.api() as api:
        presences = api.get(
            f"{API}/paid-presences", params={"filter": f"date eq '{date}' and person eq {person}"}
        ).json()["value"]
    [minutes] = [p["durationInMinutes"] for p in presences]
    assert f"{minutes // 60:02d}:{minutes % 60:02d}" in after

    assert_the_request_log_shows_the_call(browser, sandbox)
    problems = [
        entry["message"]
        for entry in browser.get_log("browser")  # type: ignore[no-untyped-call]
        if entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"]
    ]
    assert not problems, problems


def assert_the_request_log_shows_the_call(browser: WebDriver, sandbox: Sandbox) -> None:
    """The request-log page lists the two writes: the console logs each as the API call
    it stands for, with client ``console:<operator>``. Its rows are written by a thread
    within a moment, so the page is reloaded until they are there (with a deadline)."""
    browser.find_element(By.LINK_TEXT, "Request log").click()
    wait_for_text(browser, "h1", "Request log")
    client = browser.find_element(By.CSS_SELECTOR, "#request-filters input[name=client]")
    client.send_keys(f"console:{sandbox.operator.name}")
    browser.find_element(By.CSS_SELECTOR, "#request-filters button").click()

    def two_writes_listed(driver: WebDriver) -> bool:
        rows = driver.find_elements(By.CSS_SELECTOR, "#requests tr.request")
        writes = [r.text for r in rows if "POST" in r.text and "/clockings" in r.text]
        if len(writes) < 2:
            driver.refresh()
            return False
        return all("201" in w for w in writes)

    WebDriverWait(
        browser, WAIT_SECONDS, poll_frequency=0.5,
        ignored_exceptions=[StaleElementReferenceException],
    ).until(two_writes_listed)  # fmt: skip
