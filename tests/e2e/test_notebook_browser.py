"""Notebook 01 in JupyterLab under headless Chromium: it runs, its widgets render, no JS errors.

Needs Debian's ``chromium`` and ``chromium-driver`` (``scripts/install-system-deps.sh``
installs them), JupyterLab and Selenium (the ``dev`` extra) and the demo catalogs
(built here as the notebook itself would when ``make demo`` has not run); it skips,
saying which, when a program is missing. It runs a copy of the notebook (JupyterLab saves
what it runs) and takes a screenshot; with ``QSA_UPDATE_SCREENSHOTS=1`` the screenshot
replaces ``docs/notebook01_jupyterlab.png`` (the README shows it), otherwise it stays in the
test's temporary folder so that ``make test`` leaves the tree clean.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import waiting

# A browser round trip per check: look five times a second, not fifty.
wait_until = functools.partial(waiting.wait_until, interval_s=0.2)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01_quickstart.ipynb"
DOCS_SCREENSHOT = ROOT / "docs" / "notebook01_jupyterlab.png"
TOKEN = "qsa-browser-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("jupyterlab", reason="JupyterLab is part of the dev extra")
    from qserv_access.demo_data import build_demo, demo_is_built

    if not demo_is_built(ROOT / "demo-data"):
        build_demo(ROOT / "demo-data")
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    (root / "demo-data").symlink_to(ROOT / "demo-data")
    port = _free_port()
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--allow-root",
         "--ServerApp.open_browser=False", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                return True
        except OSError:
            return False

    try:
        wait_until(up, 90, "JupyterLab to answer")
        yield url
    finally:
        lab.terminate()
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="Selenium is part of the dev extra")
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium and chromium-driver are missing "
                    "(scripts/install-system-deps.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _click_menu(driver: object, menu: str, label: str) -> None:
    from selenium.webdriver.common.by import By

    items = driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
    next(i for i in items if i.text.strip() == menu).click()

    def entry() -> object:
        return next((e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item")
                     if e.text.strip().startswith(label)), None)

    wait_until(entry, 30, f"the menu entry {menu} > {label}").click()


def test_quickstart_runs_in_jupyterlab_and_its_widgets_render(lab_url, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{lab_url}/lab/tree/notebooks/{NOTEBOOK.name}?token={TOKEN}")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), 120,
               "the notebook to open")
    wait_until(lambda: "Idle" in driver.find_element(By.TAG_NAME, "body").text
               or driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator"),
               120, "the kernel to start")
    _click_menu(driver, "Run", "Run All Cells")

    def all_ran() -> bool:
        prompts = [p.text for p in driver.find_elements(By.CSS_SELECTOR,
                                                        ".jp-CodeCell .jp-InputPrompt")]
        return bool(prompts) and all(p.strip() not in ("", "[ ]:", "[*]:") for p in prompts)

    wait_until(all_ran, 240, "every cell to run")

    def finished_bars() -> list[str]:
        bars = driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .qsa-job-bar")
        texts = [b.text for b in bars]
        return texts if len(texts) >= 2 and all(
            ("Done" in t or "Cancelled" in t) for t in texts) else []

    bars = wait_until(finished_bars, 180, "both job bars to show their final state")
    assert "COMPLETED" in bars[0] and "chunks" in bars[0] and "rows" in bars[0]
    assert "ABORTED" in bars[1] and "Cancelled" in bars[1]
    def panel_page() -> list[str]:
        rows = driver.find_elements(By.CSS_SELECTOR, ".qsa-query-panel table tr")
        return [r.text for r in rows] if len(rows) >= 9 else []  # a header and 8 rows

    page = wait_until(panel_page, 60, "the query panel to show its result page")
    assert "hp_mag" in page[0] and "mag" in " ".join(page[:2])
    schema = driver.find_elements(By.CSS_SELECTOR, ".qsa-schema-browser")
    assert schema and "hip.main" in schema[0].get_attribute("innerHTML")
    errors = driver.find_elements(By.CSS_SELECTOR,
                                  '[data-mime-type="application/vnd.jupyter.stderr"]')
    assert not [e.text for e in errors if "Traceback" in e.text]
    assert len(driver.find_elements(By.CSS_SELECTOR, ".jp-RenderedImage img")) >= 3

    severe = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and "favicon" not in entry["message"]]
    assert not severe, severe

    for button in driver.find_elements(By.CSS_SELECTOR, ".Toastify button"):
        if button.text.strip() == "No":  # JupyterLab's "notified about news?" toast
            button.click()
    wait_until(lambda: not driver.find_elements(By.CSS_SELECTOR, ".Toastify__toast"), 15,
           "the toast to close")
    first_bar = driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .qsa-job-bar")[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", first_bar)
    screenshot = tmp_path / "notebook01_jupyterlab.png"
    driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("QSA_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(screenshot, DOCS_SCREENSHOT)
