"""The HTML report: one self-contained file, checked as text and in a real headless Chromium.

The browser tests need Debian's chromium and chromium-driver and the selenium package
(.ci/run installs them).  MIGDIFF_SCREENSHOT=1 writes docs/report.png, the picture in the README.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

import migsnap
from conftest import REPO
from migdiff.cli import app

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def html_report(a: Path, b: Path, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(app, ["diff", str(a), str(b), "--format", "html", "-o", str(out), *extra])
    assert result.exit_code == 1, result.output
    return out.read_text()


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "data") and value:
                self.urls.append(value)


def test_the_file_is_self_contained_and_works_without_script(gaps_pair, tmp_path: Path) -> None:
    page = html_report(*gaps_pair, tmp_path / "r.html")
    tags = Tags()
    tags.feed(page)
    assert all(url.startswith("#") for url in tags.urls), [u for u in tags.urls if not u.startswith("#")]
    assert "link" not in tags.tags and "img" not in tags.tags and "iframe" not in tags.tags
    assert "default-src 'none'" in page, "a Content-Security-Policy forbids every fetch"
    assert "url(" not in page and "@import" not in page and "<base" not in page
    # without JS everything is there: the verdict first, blockers, every section, identical rows in a <details>
    text = re.sub(r"<[^>]+>", " ", page)
    assert text.index("NOT READY") < text.index("Blockers") < text.index("Warnings")
    assert "memcached: running and enabled on source, absent on target" in text
    assert "install and enable it on target" in text and "service-missing" in text, "why, and what to do"
    assert text.index("Other differences, by kind") < text.index('packages upgraded within their release series')
    assert page.count("<details>") >= 6 and "<summary>Show the" in page, "other differences and identical rows"
    assert "Show the 229 other differences" in page
    assert '<th scope="col">Source</th>' in page and "<caption>" in page
    assert "@media print" in page
    assert "How complete the data is" in page and f"migsnap {migsnap.__version__}" in page


def test_show_html_is_the_requirement_list(sample_pair, tmp_path: Path) -> None:
    out = tmp_path / "s.html"
    result = CliRunner().invoke(app, ["show", str(sample_pair[0]), "--format", "html", "-o", str(out)])
    assert result.exit_code == 0
    page = out.read_text()
    assert "Requirements" in page and "tcp/*:80" in page and "apache2-bin" in page and 'id="filter-packages"' in page


def test_csv_is_one_row_per_change(gaps_pair) -> None:
    import csv
    import io
    result = CliRunner().invoke(app, ["diff", *map(str, gaps_pair), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    report = json.loads(CliRunner().invoke(app, ["diff", *map(str, gaps_pair), "--format", "json"]).stdout)
    assert len(rows) == sum(1 for c in report["changes"] if not c["ignored"] and c["kind"] != "identical")
    assert set(rows[0]) >= {"section", "key", "severity", "reason", "kind", "source", "target", "hint"}
    assert rows[0]["severity"] == "blocker" and rows[0]["reason"] == "service-missing" and rows[0]["hint"]


# --- in a real browser -------------------------------------------------------------------------------

needs_browser = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromium-driver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", "--window-size=1280,1400", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def requested(driver) -> list[tuple[str, str]]:
    """(url, the document that asked for it) of every request the browser made."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append((message["params"]["request"]["url"], message["params"].get("documentURL", "")))
    return urls


def visible_rows(driver, section: str) -> int:
    return driver.execute_script(
        "return Array.prototype.filter.call(document.querySelectorAll('#' + arguments[0] + ' tbody tr'),"
        " function (r) { return !r.hidden; }).length", section)


@needs_browser
def test_in_chromium_the_verdict_and_a_blocker_show_and_the_filter_narrows(browser, gaps_pair, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    page = tmp_path / "report.html"
    html_report(*gaps_pair, page)
    browser.get_log("performance")  # start from a clean log
    browser.get(page.as_uri())
    verdict = browser.find_element(By.CSS_SELECTOR, "h1")
    assert verdict.text == "NOT READY" and verdict.is_displayed() and verdict.location["y"] < 100
    blocker = browser.find_element(By.PARTIAL_LINK_TEXT, "memcached: running and enabled on source")
    assert blocker.is_displayed()
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("MIGDIFF_SCREENSHOT"):
        shutil.copy(shot, REPO / "docs" / "report.png")

    before = visible_rows(browser, "packages")
    box = browser.find_element(By.ID, "filter-packages")
    box.send_keys("libssl")
    browser.implicitly_wait(0)
    import time
    for _ in range(50):
        if visible_rows(browser, "packages") < before:
            break
        time.sleep(0.05)
    after = visible_rows(browser, "packages")
    assert 0 < after < before
    shown = browser.execute_script(
        "return Array.prototype.filter.call(document.querySelectorAll('#packages tbody tr'),"
        " function (r) { return !r.hidden; }).map(function (r) { return r.textContent; })")
    assert all("libssl" in row for row in shown)
    assert browser.find_element(By.CSS_SELECTOR, "#packages details").get_attribute("open") is not None
    box.clear()
    box.send_keys(" ")
    urls = requested(browser)
    ours = [url for url, document in urls if document == page.as_uri()]
    assert ours and all(url.startswith(("file://", "data:")) for url in ours), ours
    assert not [url for url, _ in urls if url.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp")], urls


@needs_browser
def test_in_chromium_the_filter_copes_with_25000_packages(browser, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from scale import scaled_pair
    a, b = scaled_pair(tmp_path, 25_000, services=200, sockets=200)
    page = tmp_path / "big.html"
    text = html_report(a, b, page)
    packages = text[text.index('<section id="packages"'):]
    assert packages[:packages.index("</section>")].count("<tr") >= 25_000  # the report holds them all
    import time
    browser.get(page.as_uri())
    for _ in range(100):  # a page this large may still be laid out when get() returns
        total = visible_rows(browser, "packages")
        if total >= 25_000:
            break
        time.sleep(0.05)
    assert total >= 25_000
    from selenium.webdriver.common.by import By
    browser.find_element(By.ID, "filter-packages").send_keys("libssl3-x7")
    for _ in range(100):
        if visible_rows(browser, "packages") < total:
            break
        time.sleep(0.05)
    assert 0 < visible_rows(browser, "packages") < 50


def test_a_record_on_one_host_only_is_one_phrase_not_every_field(sample_pair, tmp_path: Path) -> None:
    """Issue 14: a missing package's cell read "version: …; status: installed; manager: dpkg; arch:
    amd64; auto: no".  It says the version, the arch and how it came to be installed."""
    page = html_report(*sample_pair, tmp_path / "r.html")
    cells = re.findall(r'<td class="value">dpkg:apache2:amd64</td><td class="value">([^<]*)</td>', page)
    assert len(cells) == 1 and re.fullmatch(r"2\.4\.\S+ amd64, installed by hand", cells[0]), cells
    assert "status: installed" not in page and "manager: dpkg" not in page
    services = re.findall(r'<td class="value">rsyslog</td><td class="value">([^<]*)</td>', page)
    assert services == ["running, enabled"]
