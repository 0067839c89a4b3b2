"""The upload page and the API docs in a real browser: Debian's Chromium driven by Playwright.

No browser download: Playwright's Python package drives the system's Chromium
(`executable_path`). Without Chromium this test is skipped with how to install it, except in CI
(`CI` set), where its absence is a failure (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import GOLDEN, free_port, running_up, wait_until_healthy

ROOT = Path(__file__).parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium's own background traffic would be refused by this machine's closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if CHROMIUM is None:
    message = "no Chromium: install it with `apt-get install chromium` (Debian) to run the browser test"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("browser") / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
    command = [sys.executable, "-m", "services.cli", "up", "--port", str(port), "--data-dir", str(data)]
    up = subprocess.Popen([*command, "--workers", "1"], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, up)
        yield url
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_the_upload_page_shows_the_label_and_top5_and_an_error(service: str, browser, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(service)
    golden = ROOT / "model" / "testdata" / "cat.jpg"
    page.set_input_files("#file", str(golden))
    page.click("button[type=submit]")
    page.wait_for_selector("#out h2", timeout=60_000)
    assert page.inner_text("#out h2") in GOLDEN["cat.jpg"]
    assert page.locator("#out table tr").count() == 5
    assert page.is_visible("#preview")
    page.screenshot(path=str(tmp_path / "upload-page.png"))

    text = tmp_path / "notes.txt"
    text.write_text("not an image at all\n")
    page.set_input_files("#file", str(text))
    page.click("button[type=submit]")
    page.wait_for_selector("#out .error", timeout=30_000)
    assert page.inner_text("#out .error").startswith("not_an_image:")
    page.close()


def test_with_several_models_the_page_offers_them_and_uploads_with_the_chosen_one(
    browser, tmp_path: Path
) -> None:
    from services.adapters.local.model_registry import LocalModelRegistry
    from services.models.registration import register
    from tests.fixtures import REGISTERED_NAMES, REGISTERED_VERSION, renamed_model

    data = tmp_path / "data"
    entry, report = register(renamed_model(tmp_path, REGISTERED_NAMES[0]), LocalModelRegistry(data))
    assert entry is not None, report.failures
    with running_up(data, "--workers", "1") as up:
        page = browser.new_page()
        page.goto(up.url)
        page.wait_for_selector("#model", state="visible", timeout=30_000)
        options = page.locator("#model option").all_inner_texts()
        assert len(options) == 2 and options[0].endswith("(default)")
        page.select_option("#model", f"{REGISTERED_NAMES[0]}@{REGISTERED_VERSION}")
        page.set_input_files("#file", str(ROOT / "model" / "testdata" / "cat.jpg"))
        page.click("button[type=submit]")
        page.wait_for_selector("#out h2", timeout=60_000)
        assert page.inner_text("#out small").startswith(f"{REGISTERED_NAMES[0]}@{REGISTERED_VERSION} ")
        page.close()


def test_the_upload_page_hides_the_selector_with_one_model_and_the_jobs_with_none(
    service: str, browser
) -> None:
    page = browser.new_page()
    page.goto(service)
    page.wait_for_load_state("networkidle")
    assert not page.is_visible("#model")
    assert not page.is_visible("#jobs")
    page.close()


def test_the_page_shows_recent_jobs_and_follows_a_running_one(browser, tmp_path: Path) -> None:
    import httpx

    from services.web.settings import WebSettings

    root = tmp_path / "jobs-root"
    small, big = root / "small", root / "big"
    small.mkdir(parents=True)
    big.mkdir()
    names = sorted(GOLDEN)
    for name in names:
        (small / name).write_bytes((ROOT / "model" / "testdata" / name).read_bytes())
        for copy in range(300):  # hard links: a job long enough to be seen running, no disk
            os.link(small / name, big / f"{copy:03d}-{name}")
    (small / "notes.txt").write_text("not an image")
    settings = WebSettings.from_values(jobs_root=root, job_monitor_seconds=0.5)
    with running_up(tmp_path / "data", "--workers", "1", settings=settings) as up:
        page = browser.new_page()
        page.goto(up.url)
        page.wait_for_load_state("networkidle")
        assert not page.is_visible("#jobs")  # no jobs yet

        running = httpx.post(f"{up.url}/v1/jobs", json={"source": "big"}).json()["id"]
        page.reload()
        row = page.locator(f"#jobs tr:has(td[title='{running}'])")
        row.wait_for(timeout=30_000)
        assert row.get_attribute("data-state") in ("planning", "running")
        assert row.locator("td").nth(0).inner_text() == "…" + running[-8:]
        assert row.locator("td").nth(1).get_attribute("title") == str(big)  # the source, resolved
        cancelled = httpx.delete(f"{up.url}/v1/jobs/{running}")
        assert cancelled.status_code == 202, cancelled.text
        page.wait_for_selector(f"#jobs tr[data-state=cancelled]:has(td[title='{running}'])", timeout=30_000)

        done = httpx.post(f"{up.url}/v1/jobs", json={"source": "small"}).json()["id"]
        page.reload()
        page.wait_for_selector(f"#jobs tr[data-state=done]:has(td[title='{done}'])", timeout=120_000)
        finished = page.locator(f"#jobs tr:has(td[title='{done}'])")
        total = len(names) + 1
        assert finished.locator("td").nth(3).inner_text() == f"{total} / {total}, 1 failed"
        assert page.locator("#jobs tr").count() == 2  # newest first
        assert page.locator("#jobs tr").first.get_attribute("data-state") == "done"
        page.screenshot(path=str(tmp_path / "jobs.png"))
        page.close()


def test_the_api_docs_render_offline(service: str, browser) -> None:
    page = browser.new_page()
    page.goto(f"{service}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)  # Swagger UI built the operations list
    assert page.locator(".opblock").count() >= 5
    page.goto(f"{service}/redoc")
    page.wait_for_selector("[role=menuitem], .menu-content li", timeout=30_000)
    page.close()


def test_with_api_keys_on_the_page_asks_for_one_and_then_classifies(browser, tmp_path: Path) -> None:
    from services.web.settings import WebSettings

    keys = tmp_path / "api-keys"
    keys.write_text("browser-key-0123456789abcdef\n")
    settings = WebSettings.from_values(api_keys_file=keys)
    with running_up(tmp_path / "d", "--workers", "1", settings=settings) as up:
        url = up.url
        page = browser.new_page()
        page.goto(url)  # the page itself stays open
        assert not page.is_visible("#key")
        page.set_input_files("#file", str(ROOT / "model" / "testdata" / "cat.jpg"))
        page.click("button[type=submit]")
        page.wait_for_selector("#out .error", timeout=30_000)
        assert page.inner_text("#out .error").startswith("unauthorized:")
        assert page.is_visible("#key")
        page.fill("#key", "browser-key-0123456789abcdef")
        page.click("button[type=submit]")
        page.wait_for_selector("#out h2", timeout=60_000)
        assert page.inner_text("#out h2") in GOLDEN["cat.jpg"]
        page.reload()  # the key is kept for the tab
        assert page.input_value("#key") == "browser-key-0123456789abcdef"
        page.close()
