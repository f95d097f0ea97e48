"""Fixtures for the real-browser test: an isolated JupyterLab server and a headless Chromium page.

The server runs from this very Python (so its kernel imports the installed quantlab), on a free
loopback port with a random token, with config, settings, workspaces, runtime and data dirs in a
temp dir, so neither the user's Jupyter setup nor an earlier run can change what the test sees.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `playwright install` is never run
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-sync",
    # Without these Chromium keeps trying to reach the internet.
    "--disable-background-networking",
    "--disable-component-update",
]
SERVER_START_TIMEOUT_S = 20
BROWSER_LAUNCH_TIMEOUT_S = 10
SHUTDOWN_TIMEOUT_S = 10


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


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLab:
    """A JupyterLab server process we started, with its URL, token and log."""

    def __init__(self, root_dir, work_dir):
        self.root_dir = Path(root_dir)
        self.work_dir = Path(work_dir)
        self.python = sys.executable  # the server, and through its kernelspec the kernel
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.work_dir / "jupyterlab.log"
        self.process = None
        self.start_seconds = None

    def _environment(self):
        from ipykernel.kernelspec import get_kernel_dict

        config, settings, data = (self.work_dir / name for name in ("config", "settings", "data"))
        # A "Select Kernel" dialog would block the page; the news toast can cover it.
        tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True)
        tracker.write_text(json.dumps({"autoStartDefaultKernel": True}))
        (config / "labconfig").mkdir(parents=True)
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        )
        # The kernel must be this Python, which has quantlab installed; JUPYTER_PATH wins over
        # any python3 kernelspec in the user's or the system's data dirs.
        kernel = data / "kernels" / "python3"
        kernel.mkdir(parents=True)
        spec = get_kernel_dict()  # ipykernel's own spec, with argv[0] = this sys.executable
        spec["display_name"] = "Python 3 (quantlab test)"
        (kernel / "kernel.json").write_text(json.dumps(spec))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.work_dir / "workspaces"),
            JUPYTER_RUNTIME_DIR=str(self.work_dir / "runtime"),
            JUPYTER_DATA_DIR=str(data),
            JUPYTER_PATH=str(data),
            IPYTHONDIR=str(self.work_dir / "ipython"),  # no user startup scripts in the kernel
        )
        # A learner's kernel uses the inline backend; an inherited MPLBACKEND=Agg would hide plots.
        env.pop("MPLBACKEND", None)
        return env

    def start(self):
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root
        env = self._environment()
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root_dir,
                start_new_session=True,  # its own process group, so teardown can end its kernels too
            )
        deadline = started + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}\n{self.log_tail()}")
            try:
                self.api("status")
                self.start_seconds = time.monotonic() - started
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s\n{self.log_tail()}")

    def api(self, path, method="GET", timeout=5):
        """Call the REST API with the token and return the decoded JSON (None if empty)."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def lab_url(self, notebook_name):
        """A fresh workspace (`reset`), so tabs from an earlier session are not restored."""
        return f"{self.url}/lab/workspaces/{uuid.uuid4().hex}/tree/{notebook_name}?reset&token={self.token}"

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self):
        """Ask the server to shut down (it stops its kernels), then make sure its process group is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.api("shutdown", method="POST")
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass  # already going down, or hung: the signals below handle both
            try:
                self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=5)
        try:  # a kernel that outlived the server would still sit in our process group
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


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


@pytest.fixture
def chromium_path():
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} not found: install it with `apt-get install chromium`")
    return CHROMIUM


@pytest.fixture
def jupyterlab(notebook, chromium_path, tmp_path):
    """A JupyterLab server whose root is a temp copy of the notebook's folder."""
    root = tmp_path / "notebooks"
    shutil.copytree(notebook.parent, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    work = tmp_path / "jupyter"
    work.mkdir()
    server = JupyterLab(root, work)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def page_errors():
    """Console errors and uncaught exceptions the page reported, as readable lines."""
    return []


@pytest.fixture
def browser_page(jupyterlab, chromium_path, page_errors, request, tmp_path):
    """A headless Chromium page whose console errors and page errors go to `page_errors`.

    On failure it saves a screenshot and prints its path with the last server log lines.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: `pip install -e .[test]`")

    def on_console(message):
        if message.type == "error":
            page_errors.append(f"console.error: {message.text} ({message.location.get('url', '')})")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=BROWSER_LAUNCH_TIMEOUT_S * 1000,
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
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
            browser.close()
