"""Fixtures for the real-browser tests: one isolated JupyterLab server and one headless Chromium for the session.

The server (tests/browser/lab_driver.py) runs from this very Python, so its kernel imports the
installed quantlab, rooted at a temp copy of notebooks/, on a free loopback port with a random
token, with config, settings, workspaces, runtime and data dirs in a temp dir. Each test gets its
own page; tests stop the kernels they start, so notebooks run one after another.
"""

import os
import shutil
from pathlib import Path

import pytest
from lab_driver import BROWSER_LAUNCH_TIMEOUT_S, CHROMIUM, CHROMIUM_ARGS, JupyterLab

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (deselect with -m 'not browser')"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell in teardown that the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _unavailable(reason):
    """Skip on a developer machine, but fail under CI: a green CI must mean the browser test ran."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def notebook(request):
    """The test module's NOTEBOOK; skipped while it is not in the repository, unless NOTEBOOK_REQUIRED."""
    path = Path(request.module.NOTEBOOK)
    if not path.is_file():
        message = f"{path.name} is not in the repository yet ({path} does not exist)"
        if getattr(request.module, "NOTEBOOK_REQUIRED", False):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def chromium_path():
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} not found: install it with `apt-get install chromium`")
    return CHROMIUM


@pytest.fixture(scope="session")
def jupyterlab(chromium_path, tmp_path_factory):
    """One JupyterLab server for every browser test, whose root is a temp copy of notebooks/."""
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    work = root.parent / "jupyter"
    work.mkdir()
    server = JupyterLab(root, work)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    """Headless Chromium, the system's (playwright never downloads one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: `pip install -e .[test]`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=BROWSER_LAUNCH_TIMEOUT_S * 1000,
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors():
    """Console errors and uncaught exceptions the page reported, as readable lines."""
    return []


@pytest.fixture
def browser_page(jupyterlab, browser, page_errors, request, tmp_path):
    """A fresh page whose console errors and page errors go to `page_errors`.

    On failure it saves a screenshot and prints its path with the last server log lines.
    """

    def on_console(message):
        if message.type == "error":
            page_errors.append(f"console.error: {message.text} ({message.location.get('url', '')})")

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.set_default_timeout(10_000)  # clicks and reads
        page.on("console", on_console)
        page.on("pageerror", lambda error: page_errors.append(f"pageerror: {error}"))
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            screenshot = tmp_path / "jupyterlab-failure.png"
            try:
                page.screenshot(path=str(screenshot), full_page=True, timeout=5_000)
                print(f"\nscreenshot: {screenshot}")
            except Exception as error:  # the page may be what broke; the log still helps
                print(f"\nno screenshot ({error})")
            print(f"last server log lines ({jupyterlab.log_path}):\n{jupyterlab.log_tail()}")
    finally:
        page.close()
