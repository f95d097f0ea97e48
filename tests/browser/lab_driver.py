"""Drive explorers in JupyterLab as a learner does: open a notebook, run it, operate every control, time the redraw.

Shared by tests/browser/test_every_explorer.py (does every control redraw the figure and the readout?)
and benchmarks/browser_latency.py (how long from a key press, a click or a choice to the new pixels?).

Explorers are found by the class the Explorer base puts on its widget (`quantlab-explorer`), their
readout by `quantlab-readout`, their name from the one-line call shown under the figure. Latency is
timed inside the page: from the input event that operates the control (captured on the document,
before any widget sees it) to the frame after the new figure image is decoded.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

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


# Regexes of console errors that say nothing about the notebooks, each with its reason.
# Errors the page may log that are not the course's. Empty: the one seen so far ("Shared module
# @jupyterlite/services doesn't exist", from jupyterlite-pyodide-kernel's lab extension) is a learner-visible
# defect of installing the JupyterLite builder into the course's venv, so the builder got its own (.venv-lite).
HARMLESS_ERRORS = []


def real_errors(errors):
    """The page's errors, less the HARMLESS_ERRORS."""
    return [e for e in errors if not any(re.search(pattern, e) for pattern in HARMLESS_ERRORS)]


# All `count` code cells are on the page and have run ("[n]:"); none is queued or running ("[*]:").
ALL_CELLS_RAN_JS = r"""(count) => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
    return prompts.length === count && prompts.every(p => /^\[\d+\]:?$/.test(p.textContent.trim()));
}"""

# Error outputs, as text. JupyterLab gives stream stderr (warnings) and errors the same MIME type,
# so tell them apart the way a reader would: a traceback, IPython's "Cell In[n]" header, or a
# line that starts with an exception name.
CELL_ERRORS_JS = r"""() => [...document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent)
    .filter(t => /Traceback \(most recent call last\)|^\s*Cell In\[\d+\], line \d+|^[\w.]*(Error|Exception|Interrupt)(:|$)/m.test(t))"""

# Every explorer on the page with its controls, numbered (data-test-* attributes) for later selectors.
# A control's kind is the ipywidgets view class it carries; hidden controls are not rendered at all.
CONTROL_KINDS = {
    "slider": ".widget-slider",
    "dropdown": ".widget-dropdown",
    "toggle": ".widget-toggle-buttons",
    "checkbox": ".widget-checkbox",
    "number": ".widget-text",
}
FIND_EXPLORERS_JS = """(kinds) => [...document.querySelectorAll('.quantlab-explorer')].map((explorer, i) => {
    explorer.setAttribute('data-test-explorer', i);
    const call = [...explorer.querySelectorAll('code')].map(c => c.textContent).join(' ');
    const name = (call.match(/quantlab\\.widgets\\.(\\w+)\\(/) || [null, '?'])[1];
    const controls = [];
    for (const node of explorer.querySelectorAll(Object.values(kinds).join(','))) {
        const kind = Object.keys(kinds).find(k => node.matches(kinds[k]));
        const label = node.querySelector('.widget-label');
        node.setAttribute('data-test-control', `${i}.${controls.length}`);
        const buttons = [...node.querySelectorAll('button')].map(b => b.textContent.trim()).join('/');
        // A control marked quantlab-live-run runs a model now (notebook 11's llama.cpp toggle): timed apart.
        const live = node.matches('.quantlab-live-run');
        controls.push({kind, label: (label && label.textContent.trim()) || buttons || kind, live});
    }
    return {index: i, name, controls};
})"""

# Arm the timer for one operation: note the figure and readout now, start the clock at the first
# `events` input event on the page, stop it when a different figure is decoded and painted (`figure`). An
# explorer that first sends a preview (notebook 08's: exact bits per weight, scores still being measured)
# carries the class PENDING_CLASS until its measured figure is in the page: `final` is when the figure
# shown once that class is gone was painted (the same as `figure` for an explorer that sends one picture).
PENDING_CLASS = "quantlab-pending"  # quantlab.widgets.base.PENDING_CLASS
ARM_JS = """([explorerSelector, events, pendingClass]) => {
    const explorer = document.querySelector(explorerSelector);
    const figure = () => explorer.querySelector('.widget-output img, .widget-output canvas');
    const fingerprint = () => { const f = figure(); return f ? (f.src || f.toDataURL()) : null; };
    const readout = () => [...explorer.querySelectorAll('.quantlab-readout')].map(r => r.textContent).join('\\n');
    const state = {start: null, figure: null, final: null, readout: null, before: fingerprint(), text: readout(),
                   seen: fingerprint(), count: 0, painted: {}, previewed: false};
    const start = () => { if (state.start === null) state.start = performance.now(); };
    for (const type of events) document.addEventListener(type, start, {capture: true, once: true});
    const settle = () => {
        const pending = explorer.classList.contains(pendingClass);
        if (pending) state.previewed = true;
        const pictures = state.previewed ? 2 : 1;  // after a preview, the measured figure is at least the second
        if (state.final === null && !pending && state.count >= pictures && state.painted[state.count] !== undefined)
            state.final = state.painted[state.count];
    };
    const check = () => {
        if (state.start === null) return;
        if (state.readout === null && readout() !== state.text) state.readout = performance.now() - state.start;
        const shown = figure();
        if (shown && fingerprint() !== state.seen) {
            state.seen = fingerprint();
            const number = ++state.count;  // a new picture arrived; count it once decoded and painted
            if (state.figure === null) state.figure = -1;
            const painted = () => requestAnimationFrame(() => {
                const t = performance.now() - state.start;
                if (state.figure === -1) state.figure = t;
                state.painted[number] = t;
                settle();
            });
            (shown.decode ? shown.decode() : Promise.resolve()).then(painted, painted);
        }
        settle();
    };
    state.observer = new MutationObserver(check);
    state.observer.observe(explorer, {subtree: true, childList: true, attributes: true, characterData: true});
    window.__quantlabOperation = state;
}"""
OPERATION_DONE_JS = """() => { const s = window.__quantlabOperation;
    return s.figure !== null && s.figure >= 0 && s.readout !== null && s.final !== null; }"""
OPERATION_RESULT_JS = """() => { const s = window.__quantlabOperation; s.observer.disconnect();
    return {figure: s.figure, final: s.final, readout: s.readout, started: s.start !== null}; }"""

# The input event that operates each kind of control (the clock starts there).
START_EVENTS = {
    "slider": ["keydown"],
    "dropdown": ["change"],
    "toggle": ["click"],
    "checkbox": ["click"],
    "number": ["keydown"],
}


@dataclass
class Operation:
    """One control operated: what was done, and ms from the input event to new pixels (None if they never came)."""

    explorer: str
    control: str
    kind: str
    action: str
    figure_ms: float | None
    readout_ms: float | None
    undo_step: object = None  # what _operate needs to put the control back
    live: bool = False  # the control runs a model now (class quantlab-live-run): not held to the latency target
    final_ms: float | None = None  # to the measured figure, after any preview (figure_ms when there is none)


def poll(condition, timeout, what):
    """Call `condition` until it returns something truthy; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def notebook_kernel(lab, name):
    """This notebook's session (with its kernel model) from /api/sessions, or None before it exists."""
    for session in lab.api("sessions"):
        if session.get("path", "").endswith(name) and session.get("kernel"):
            return session
    return None


def idle_kernel(lab, name):
    session = notebook_kernel(lab, name)
    return session["kernel"] if session and session["kernel"]["execution_state"] == "idle" else None


def explorer_calls(notebook):
    """Names of the explorers a notebook's code cells construct (quantlab.widgets.EXPLORERS), in order."""
    from quantlab import widgets

    known = {cls.__name__ for cls in widgets.EXPLORERS}
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return [name for name in re.findall(r"\bwidgets\.(\w+)\(", source) if name in known]


def open_and_run(page, lab, notebook, ready_timeout=30, run_timeout=600):
    """Open `notebook` in a fresh workspace, wait for its kernel, Run All Cells from the menu.

    Returns {step: seconds}; raises AssertionError naming the cell output if a cell raised.
    run_timeout bounds a whole notebook: 08 took over 300 s with the load average at 20 on 2 cores.
    """
    timings = {}
    started = time.monotonic()
    page.goto(lab.lab_url(notebook.name), timeout=ready_timeout * 1000)
    page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=ready_timeout * 1000)
    poll(lambda: idle_kernel(lab, notebook.name), ready_timeout, f"an idle kernel for {notebook.name}")
    timings["page + kernel ready"] = time.monotonic() - started
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code_cells = sum(cell["cell_type"] == "code" for cell in cells)
    started = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    def all_ran_or_one_failed():
        if page.evaluate(CELL_ERRORS_JS):
            return True
        return page.evaluate(ALL_CELLS_RAN_JS, code_cells) and idle_kernel(lab, notebook.name)

    poll(all_ran_or_one_failed, run_timeout, f"all {code_cells} code cells of {notebook.name} to run")
    errors = page.evaluate(CELL_ERRORS_JS)
    assert not errors, f"a cell of {notebook.name} raised:\n" + "\n".join(errors)
    timings["run all"] = time.monotonic() - started
    return timings


def stop_kernel(lab, notebook):
    """Shut down the notebook's kernel, so the next notebook has the machine to itself."""
    session = notebook_kernel(lab, notebook.name)
    if session is not None:
        lab.api(f"sessions/{session['id']}", method="DELETE")


def find_explorers(page, expected, timeout=30):
    """Every explorer on the page, once `expected` of them have rendered: [{index, name, controls}]."""
    return poll(
        lambda: (found := page.evaluate(FIND_EXPLORERS_JS, CONTROL_KINDS)) and len(found) >= expected and found,
        timeout,
        f"{expected} explorer(s) on the page",
    )


def _operate(page, node, kind, back=None):
    """Do what a learner does with this kind of control; return (what was done, how to undo it).

    back: what an earlier call returned as its undo, to put the control back where it was.
    """
    if kind == "slider":
        handle = node.locator(".noUi-handle").first
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        key = back or ("ArrowLeft" if at_max else "ArrowRight")
        handle.focus()
        handle.press(key)
        return key, {"ArrowLeft": "ArrowRight", "ArrowRight": "ArrowLeft"}[key]
    if kind == "dropdown":
        select = node.locator("select")
        options = select.evaluate("s => [...s.options].map(o => o.text)")
        current = select.evaluate("s => s.selectedIndex")
        choice = (current + 1) % len(options) if back is None else back
        select.select_option(index=choice)
        return f"select {options[choice]!r}", current
    if kind == "toggle":
        active = node.locator("button.mod-active").first.get_attribute("data-value")
        buttons = node.locator("button")
        values = [buttons.nth(i).get_attribute("data-value") for i in range(buttons.count())]
        button = node.locator("button:not(.mod-active)").first if back is None else buttons.nth(values.index(back))
        label = button.inner_text()
        button.click()
        return f"click {label!r}", active
    if kind == "checkbox":
        node.locator("input").click()
        return "click", None
    if kind == "number":
        box = node.locator("input")
        current = box.input_value()
        typed = (
            back if back is not None else next_number(current, *(box.get_attribute(a) for a in ("min", "max", "step")))
        )
        box.fill(typed)
        box.press("Enter")
        return f"type {typed}", current
    raise ValueError(f"no rule to operate a {kind!r} control")


def next_number(current, low, high, step):
    """A value to type into a number box that differs from `current` and stays inside its min/max (a bounded box clamps
    an out-of-range value back to where it was, and nothing would change): one step up, or one down at the top."""
    x = float(current or 0)
    step = float(step) if step not in (None, "", "any") else 1.1
    up, down = x + step, x - step
    fits = [
        v for v in (up, down) if (high in (None, "") or v <= float(high)) and (low in (None, "") or v >= float(low))
    ]
    return f"{(fits[0] if fits else up):.6g}"


def operate(page, explorer, control_index, timeout=30, undo=None):
    """Operate one control of `explorer` (from find_explorers) and wait for the new figure and readout.

    undo: an Operation on this control, to undo (the control goes back to where it was before it).
    """
    control = explorer["controls"][control_index]
    node = page.locator(f'[data-test-control="{explorer["index"]}.{control_index}"]')
    node.scroll_into_view_if_needed()
    page.evaluate(ARM_JS, [f'[data-test-explorer="{explorer["index"]}"]', START_EVENTS[control["kind"]], PENDING_CLASS])
    action, undo_step = _operate(page, node, control["kind"], None if undo is None else undo.undo_step)
    try:
        page.wait_for_function(OPERATION_DONE_JS, timeout=timeout * 1000, polling=50)
    except Exception as error:  # playwright's TimeoutError: report what did (not) change instead
        if "Timeout" not in type(error).__name__:
            raise
    result = page.evaluate(OPERATION_RESULT_JS)
    figure = result["figure"] if result["figure"] is not None and result["figure"] >= 0 else None
    return Operation(
        explorer["name"],
        control["label"],
        control["kind"],
        action,
        figure,
        result["readout"],
        undo_step,
        control["live"],
        result["final"],
    )
