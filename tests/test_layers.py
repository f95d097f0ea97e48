"""The architecture as a test: imports flow widgets -> plots -> core and checks -> core, never back.

Read from the source with `ast` (nothing is imported), so a violation fails here before it leaks into
a notebook. Core is every module outside plots/, widgets/, checks/ and figures.py.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "quantlab"
LAYERS = ("plots", "widgets", "checks")
DRAWING_LIBRARIES = ("matplotlib", "ipywidgets", "PIL")
# What each layer may not import (as quantlab.<name> or a third-party top-level package).
FORBIDDEN = {
    "core": {"plots", "widgets", "checks", "figures", *DRAWING_LIBRARIES},
    "plots": {"widgets", "checks", "figures", "ipywidgets"},
    "checks": {"widgets", "plots", "figures", *DRAWING_LIBRARIES},
    "widgets": {"checks", "figures"},
    "figures": {"widgets", "checks", "ipywidgets"},
}


def modules():
    """(dotted name, path) of every module in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def layer_of(module):
    """'plots', 'widgets', 'checks', 'figures' or 'core' for a dotted module name."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in (*LAYERS, "figures"):
        return parts[1]
    return "core"


def folder_of(module, is_package):
    """The folder a module lives in: 'quantlab' or 'quantlab.ggml', ..."""
    return module if is_package else module.rpartition(".")[0]


def imports(module, path):
    """(imported dotted name, the names taken from it, line) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = folder_of(module, path.name == "__init__.py")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = [alias.name for alias in node.names]
            yield target, names, node.lineno
            for name in names:  # "from . import plots" imports the module quantlab.plots
                yield f"{target}.{name}", [], node.lineno


def forbidden_target(target):
    """The name a layer rule is written in: 'plots' for quantlab.plots.x, 'matplotlib' for matplotlib.y."""
    parts = target.split(".")
    if parts[0] == "quantlab":
        return parts[1] if len(parts) > 1 else None
    return parts[0]


ALL_MODULES = list(modules())


@pytest.mark.parametrize("module, path", ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_imports_flow_one_way(module, path):
    layer = layer_of(module)
    bad = [
        f"line {line}: {target}"
        for target, _, line in imports(module, path)
        if forbidden_target(target) in FORBIDDEN[layer]
    ]
    assert not bad, f"{module} ({layer}) imports what its layer may not: {bad}"


@pytest.mark.parametrize("module, path", ALL_MODULES, ids=[m for m, _ in ALL_MODULES])
def test_no_private_name_crosses_a_folder(module, path):
    here = folder_of(module, path.name == "__init__.py")
    bad = []
    for target, names, line in imports(module, path):
        if not target or not target.startswith("quantlab"):
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        target_is_package = (PACKAGE.parent / target.replace(".", "/") / "__init__.py").exists()
        there = target if target_is_package else target.rpartition(".")[0]
        if private and there != here:
            bad.append(f"line {line}: {private} from {target}")
    assert not bad, (
        f"{module} imports private names from another folder (make them public in that folder's base.py): {bad}"
    )


def test_the_rules_catch_a_violation(tmp_path):
    """The checker itself can fail: a core module that imports matplotlib and a widget is reported."""
    path = tmp_path / "bad.py"
    path.write_text("import matplotlib.pyplot as plt\nfrom .widgets.base import Explorer\nfrom .plots import _x\n")
    targets = [forbidden_target(t) for t, _, _ in imports("quantlab.bad", path)]
    assert {"matplotlib", "widgets", "plots"} <= set(targets)
    assert "plots" in FORBIDDEN[layer_of("quantlab.bad")]


def test_every_layer_folder_exists():
    for layer in LAYERS:
        assert (PACKAGE / layer / "base.py").exists(), f"quantlab/{layer}/base.py holds the layer's shared helpers"
