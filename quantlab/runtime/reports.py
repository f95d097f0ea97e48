"""Notebook 11's text: a MiniLM run, the one-matrix emulation, and Gemma's continuations side by side.

Text only (numbers rounded so that a notebook's printed output stays the same from run to run on
one machine; llama.cpp's last digits may differ between builds and CPUs).
"""

import numpy as np

from ..models import minilm
from .generation import departure
from .runs import THRESHOLD
from .table import AGREEMENT, agreement


def run_text(run, f32_bytes, measured_by=None, live=None):
    """The explorer's readout: size, types, and cosine to FP32 in llama.cpp and numpy.

    measured_by: where the run's numbers come from when they are the table's (a line under them);
    live: the same file run in llama.cpp just now, compared with `run` (table.agreement, within table.AGREEMENT).
    """
    counts = ", ".join(f"{t} x{n}" for t, n in sorted(run.type_counts.items(), key=lambda item: -item[1]))
    worst = int(np.argmin(run.cosine_llama))
    verdict = "yes" if run.passes else f"no ({int((run.cosine_llama < THRESHOLD).sum())} sentences below)"
    text = (
        f"{run.label}\n"
        f"file     {run.n_bytes / 1e6:.2f} MB ({run.n_bytes / f32_bytes:.0%} of F32)\n"
        f"         {run.bits_per_weight:.2f} bits/weight, all counted\n"
        f"types    {counts}\n"
        f"cosine to FP32   min     mean\n"
        f"llama.cpp     {run.cosine_llama.min():.4f}  {run.cosine_llama.mean():.4f}\n"
        f"numpy         {run.cosine_numpy.min():.4f}  {run.cosine_numpy.mean():.4f}\n"
        f"worst: #{worst} {minilm.SENTENCES[worst]!r}\n"
        f">= {THRESHOLD} on all 40: {verdict}"
    )
    if measured_by is not None:
        text += "\nfrom the table, measured by" + "".join(f"\n  {line}" for line in measured_by.splitlines())
    if live is not None:
        gap, same_bytes = agreement(live, run)
        text += (
            f"\nrun just now (rings), min / mean:\n"
            f"llama.cpp     {live.cosine_llama.min():.4f}  {live.cosine_llama.mean():.4f}\n"
            f"agrees with the table: {'yes' if same_bytes and gap <= AGREEMENT else 'NO'}\n"
            f"  largest cosine gap {gap:.1e} (allowed {AGREEMENT:.0e}),\n"
            f"  {'same' if same_bytes else 'OTHER'} file size"
        )
    return text


def emulation_text(errors):
    """{label: per-sentence 1 - cosine to llama.cpp} as one line each (mean and max)."""
    lines = [f"{'numpy, compared with llama.cpp on the same file':<52} {'mean 1-cos':>10} {'max 1-cos':>10}"]
    for label, values in errors.items():
        lines.append(f"{label:<52} {values.mean():>10.1e} {values.max():>10.1e}")
    return "\n".join(lines)


def completions_text(texts, reference, width=64):
    """Continuations of each prompt side by side, each with the words and characters it shares with the reference's."""
    lines = []
    first = texts[reference]
    for prompt in first:
        lines.append(f"{prompt!r}")
        for label, by_prompt in texts.items():
            text = by_prompt[prompt]
            parted = departure(first[prompt], text)
            same = "same text" if parted is None else f"{parted.shared_words} words, {parted.shared_chars} chars"
            shown = text.replace("\n", " \u21b5 ")
            shown = shown if len(shown) <= width else shown[: width - 1] + "\u2026"
            lines.append(f"  {label:<20} {same:<22} |{shown}")
    return "\n".join(lines)


def file_text(info, f32_bytes=None):
    """A written file in three lines: name and size, bits per weight, the types of its quantized tensors."""
    counts = ", ".join(f"{t} x{n}" for t, n in sorted(info.type_counts.items(), key=lambda item: -item[1]))
    share = (
        "" if f32_bytes is None else f" ({info.n_bytes / f32_bytes:.0%} of the all-F32 file's {f32_bytes / 1e6:.1f} MB)"
    )
    return (
        f"{info.path.name}: {info.n_bytes:,} bytes{share}\n"
        f"{info.bits_per_weight:.2f} bits per weight, everything counted (vocabulary, norms, F32 tables)\n"
        f"tensors: {counts}"
    )


def w8a8_text(run):
    """A run's distance from FP32 in numpy (weights rounded) and in llama.cpp (weights and activations rounded)."""
    rows = (
        ("numpy: weights rounded, activations float32", run.cosine_numpy),
        ("llama.cpp: weights and activations rounded", run.cosine_llama),
    )
    lines = [f"{run.label}: 1 - cosine to FP32 over the 40 sentences   mean    worst"]
    lines += [f"  {label:<47} {(1 - c).mean():.1e}  {(1 - c).max():.1e}" for label, c in rows]
    return "\n".join(lines)
