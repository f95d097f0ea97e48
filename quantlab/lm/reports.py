"""Notebook 08's numbers as text: the explorer's meter and readout, and ours beside llama.cpp's and the article's."""

import functools

import numpy as np

from ..mixes import sizes
from ..mixes.calculator import quality_bits_per_weight
from ..mixes.published import ARTICLE_LLAMA_2_7B, LLAMA_2_7B_QUALITY, LLAMA_3_8B_QUALITY
from . import quality
from .quality import class_label

MIX_RULE = "mix"  # a class's entry when the preset gives its tensors different types, layer by layer
PUBLISHED_MIXES = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K")


@functools.lru_cache(maxsize=1)
def explorer_meter():
    """The QualityMeter of the explorer and the exercise: F32 reference on the slice, one shared tensor cache
    and one cache of scores (notebook 08 measures every preset on it before the explorer shows them)."""
    return quality.QualityMeter(text=quality.explorer_text())


@functools.lru_cache(maxsize=1)
def table():
    """The committed quality table (checked against the weights, text and rules on load)."""
    return quality.load_table()


def fill(mix, shapes=None):
    """{class: type} a preset puts in the dropdowns: the class's type, or MIX_RULE where its layers differ."""
    shapes = explorer_meter().shapes if shapes is None else shapes
    counts = quality.types_by_class(quality.plan_types(shapes, mix))
    return {c: next(iter(types)) if len(types) == 1 else MIX_RULE for c, types in counts.items()}


def settings_text(result):
    """The readout: what was measured, on what, and the type of every class (a preview's scores: 'measuring')."""
    counts = quality.types_by_class(result.types)
    lines = [
        result.label if len(result.label) < 34 else result.mix + " + overrides",
        f"scored on {result.n_predictions:,} characters",
        f"  (the table: all {table().full_text[0].n_predictions:,})",
        f"bits/weight {result.bits_per_weight:8.3f}",
        f"  {result.n_bytes:,} bytes, {result.n_weights:,} weights",
    ]
    if result.perplexity is None:
        lines += ["perplexity  measuring...", f"  F32 {result.reference_perplexity:.4f}", "KL to F32   measuring..."]
    else:
        lines += [
            f"perplexity  {result.perplexity:8.4f}",
            f"  F32 {result.reference_perplexity:.4f}, {result.delta_perplexity:+.4f} ({100 * result.relative_increase:+.2f} %)",
            f"KL to F32   {result.kl_divergence:8.5f} nats/char",
        ]
    lines.append(f"{'class':<14}type")
    lines += [f"{class_label(c):<14}{quality.describe(types)}" for c, types in counts.items()]
    return "\n".join(lines)


def published_series(rows):
    """{model: (bits per weight, KL divergence, mixes)} for ours (per character) and llama.cpp's (per token)."""
    ours = [r for r in rows if r.mix != "F32"]
    llama2 = sizes.ARCHITECTURES["Llama-2-7B"]
    llama2_mixes = [m for m in PUBLISHED_MIXES if m in LLAMA_2_7B_QUALITY]
    llama3_bits = quality_bits_per_weight()
    return {
        "ours": ([r.bits_per_weight for r in ours], [r.kl_divergence for r in ours], [r.mix for r in ours]),
        "Llama 2 7B": (
            [sizes.mix_size(llama2, m).bits_per_weight for m in llama2_mixes],
            [LLAMA_2_7B_QUALITY[m][1] for m in llama2_mixes],
            llama2_mixes,
        ),
        "Llama 3 8B": (
            [llama3_bits[m] for m in PUBLISHED_MIXES],
            [LLAMA_3_8B_QUALITY[m][3] for m in PUBLISHED_MIXES],
            list(PUBLISHED_MIXES),
        ),
    }


def comparison_text(rows):
    """Ours against llama.cpp's published increases: perplexity change in % and KL divergence, per mix."""
    ours = {r.mix: r for r in rows}
    llama3_f16 = LLAMA_3_8B_QUALITY["F16"][1] - LLAMA_3_8B_QUALITY["F16"][2]
    lines = [
        "         ------- ours (per char) -------  -- Llama 2 7B (token) --  -- Llama 3 8B (token) --",
        f"{'mix':<8}{'bits':>6}{'Δppl %':>9}{'KL':>10}     {'Δppl':>7}{'Δppl %':>8}{'KL':>9}  {'Δppl':>7}{'Δppl %':>8}{'KL':>9}",
    ]
    for mix in PUBLISHED_MIXES:
        row = ours[mix]
        line = f"{mix:<8}{row.bits_per_weight:>6.2f}{100 * row.relative_increase:>+9.2f}{row.kl_divergence:>10.5f}     "
        if mix in LLAMA_2_7B_QUALITY:
            delta, kld = LLAMA_2_7B_QUALITY[mix]
            line += f"{delta:>+7.3f}{100 * delta / LLAMA_2_7B_F16_PPL:>+8.2f}{kld:>9.5f}  "
        else:
            line += f"{'':>24}  "
        _, _, delta, kld = LLAMA_3_8B_QUALITY[mix]
        line += f"{delta:>+7.3f}{100 * delta / llama3_f16:>+8.2f}{kld:>9.5f}"
        lines.append(line)
    return "\n".join(lines)


# Llama 2 7B's F16 perplexity on Wikitext-2: the "Mean PPL" cell of the Llama 2 Q2_K column in the same
# README table (tools/perplexity/README.md, "LLaMA 2 vs. LLaMA 3 Quantization comparison"), which is the
# F16 value (LLAMA_2_7B_QUALITY's note: PPL / PPL ratio of Q4_K_M, Q6_K, Q8_0 all give 5.7946).
LLAMA_2_7B_F16_PPL = 5.794552


def article_text(rows):
    """The article's Llama 2 7B perplexities as increases over its F16, beside llama.cpp's and ours."""
    article = ARTICLE_LLAMA_2_7B
    ours = {r.mix: r for r in rows}
    lines = [f"{'mix':<8}{'article':>9}{'llama.cpp':>11}{'ours':>9}   (perplexity increase over F16/F32, %)"]
    for mix in ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"):
        theirs = LLAMA_2_7B_QUALITY.get(mix)
        published = f"{100 * theirs[0] / LLAMA_2_7B_F16_PPL:+.2f}" if theirs else "-"
        lines.append(
            f"{mix:<8}{100 * (article[mix][2] / article['F16'][2] - 1):>+9.2f}{published:>11}"
            f"{100 * ours[mix].relative_increase:>+9.2f}"
        )
    return "\n".join(lines)


def tensor_classes_text(model):
    """Text: the CharLM's weights, and per tensor class (as a mix sees them) its tensors, shape and share."""
    shapes = model.tensor_shapes()
    n_weights = sum(w.size for w in model.weights.values())
    lines = [f"{n_weights:,} weights in {len(shapes)} tensors; the classes a mix treats differently:"]
    for tensor_class in quality.TENSOR_CLASSES:
        names = [n for n in shapes if quality.class_of(n) == tensor_class]
        share = sum(model.weights[n].size for n in names) / n_weights
        lines.append(
            f"  {class_label(tensor_class):<14}{len(names)} x {str(shapes[names[0]]):<12}{share:6.1%} of the weights"
        )
    lines.append(f"  norms (1-D)   {sum(len(s) == 1 for s in shapes.values())} x (256,)  stay F32")
    return "\n".join(lines)


def chunk_means_text(values_by_name, n_chunks=8):
    """Text: the mean of each of n_chunks consecutive chunks, per named series (signs visible)."""
    lines = []
    for name, values in values_by_name.items():
        chunks = " ".join(f"{chunk.mean():+.1e}" for chunk in np.array_split(values, n_chunks))
        lines.append(f"{name:>10}, {n_chunks} chunks of {len(values) // n_chunks}: {chunks}")
    return "\n".join(lines)


def per_token_text(rows, chars_per_token=(1, 2, 4), mixes=("Q8_0", "Q6_K", "Q4_K_M")):
    """Our per-character KL and perplexity change restated per token of c characters, beside Llama 2 7B's per-token figures.

    By the chain rule, the KL between two models' distributions over the next c characters is the sum of
    the c per-character KLs (in expectation): c times the mean. Perplexity is exp(mean NLL), so a
    per-character perplexity ratio r becomes r^c per c characters. Tokens of real tokenizers vary in
    length; c is a what-if, not a measurement of any tokenizer.
    """
    ours = {r.mix: r for r in rows}
    header = (
        f"{'mix':<8}"
        + "".join(f"{f'c={c}: KL':>12}{'Δppl %':>9}" for c in chars_per_token)
        + f"{'Llama 2 7B: KL':>17}{'Δppl %':>9}"
    )
    lines = [header]
    for mix in mixes:
        row = ours[mix]
        line = f"{mix:<8}" + "".join(
            f"{c * row.kl_divergence:>12.5f}{100 * ((1 + row.relative_increase) ** c - 1):>+9.2f}"
            for c in chars_per_token
        )
        if mix in LLAMA_2_7B_QUALITY:
            delta, kld = LLAMA_2_7B_QUALITY[mix]
            line += f"{kld:>17.5f}{100 * delta / LLAMA_2_7B_F16_PPL:>+9.2f}"
        lines.append(line)
    return "\n".join(lines)
