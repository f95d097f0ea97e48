"""Notebook 10's numbers as text: layer statistics, systematic features, the explorers' readouts, planted outliers."""

import numpy as np

from ..models import minilm
from . import capture, compare, layers, stats
from .published import claims_text, table_rows_text
from .planted import planted_table


def stats_text(inputs, readers, top=3):
    """One line per distinct captured input: max |x|, typical channel max, kurtosis, features >= 6 (share of tokens)."""
    lines = [
        f"{'layer input':40} {'max|x|':>6} {'median ch':>9} {'kurt max':>8} {'>= 6':>4}  top features (share of tokens)"
    ]
    for s in stats.layer_table(inputs):
        order = np.argsort(-s.token_share)[:top]
        shown = ", ".join(f"{s.outlier_features[i]} ({s.token_share[i]:.1%})" for i in order)
        lines.append(
            f"{s.name.removesuffix('.weight'):40} {s.max_abs:6.1f} {s.median_channel_absmax:9.2f} "
            f"{s.max_kurtosis:8.1f} {len(s.outlier_features):4d}  {shown}"
        )
    return "\n".join(lines)


def systematic_text(inputs, readers):
    """LLM.int8()'s systematic features over the residual-stream inputs, or 'none', with the two shares."""
    found = stats.systematic_features(capture.residual_inputs(inputs, readers))
    rows = [
        f"  dim {f}: {layer:.0%} of layers, {token:.1%} of positions"
        for f, layer, token in zip(found.features, found.layer_share, found.token_share)
    ]
    return (
        f"systematic outlier features over {found.n_layers} residual-stream inputs "
        f"(>= 6 in >= 25% of layers and >= 6% of positions):\n" + ("\n".join(rows) if rows else "  none")
    )


def position_text(key, features):
    """Where each MiniLM feature reaches |x| >= 6 in a key's input: how many tokens, how many are [CLS] or [SEP]."""
    x, _ = layers.layer_pair(key)
    _, mask = minilm.tokenize(list(minilm.SENTENCES))
    lengths = mask.sum(axis=1)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    last = first + lengths - 1
    lines = [f"{layers.label(key)}: {x.shape[0]} tokens in {len(lengths)} sentences"]
    for feature in features:
        hits = np.flatnonzero(np.abs(x[:, feature]) >= 6.0)
        lines.append(
            f"  dim {feature}: |x| >= 6 at {len(hits)} tokens; {np.isin(hits, first).sum()} of them "
            f"[CLS] (a sentence's first token), {np.isin(hits, last).sum()} [SEP] (its last)"
        )
    return "\n".join(lines)


def threshold_text(key, effect, per_token_error):
    """The LLM.int8() explorer's readout."""
    width = len(layers.channel_absmax(key))
    return (
        f"{layers.label(key)}\nthreshold |x| >= {effect.threshold:g}\n"
        f"features in float  {effect.n_float_features} of {width}\n"
        f"kept in int8       {effect.int8_share:.2%} of the multiply-adds\n"
        f"output error       {effect.relative_error:.4f}\n"
        f"  W8A8 per-token, nothing in float: {per_token_error:.4f}"
    )


def alpha_text(key, effect):
    """The SmoothQuant explorer's readout."""
    return (
        f"{layers.label(key)}\nalpha {effect.alpha:.1f}\n"
        f"activation difficulty {effect.activation_difficulty:7.1f}\n"
        f"weight difficulty     {effect.weight_difficulty:7.1f}\n"
        f"  (largest channel max / median channel max)\n"
        f"W8A8 per-tensor output error\n  smoothed   {effect.relative_error:.4f}\n"
        f"  unsmoothed {effect.unsmoothed_error:.4f}"
    )


def rotation_text(key, effect, kurtosis, rotated, bits):
    """The rotation explorer's readout: `effect` has max_abs_before/after and error_before/after
    (effects.RotationEffect or curves.RotationErrors), `kurtosis` is per channel of what is shown."""
    return (
        f"{layers.label(key)}\nshowing {'x Q (rotated)' if rotated else 'x (original)'}\n"
        f"max |x|         {effect.max_abs_after if rotated else effect.max_abs_before:8.2f}\n"
        f"kurtosis max    {np.nanmax(kurtosis):8.2f}\n"
        f"kurtosis median {np.nanmedian(kurtosis):8.2f}\n"
        f"W{bits}A{bits} per-tensor output error\n  original {effect.error_before:.4f}\n"
        f"  rotated  {effect.error_after:.4f}"
    )


def planted_text(bits=(8, 4)):
    """Lone outlier vs outlier channel vs loud row, per tensor and per row, with and without rotation.

    Two errors of A B^T after quantizing A: over the whole product, and for the median row (a typical token).
    """
    results = planted_table(bits)
    lines = [f"{'bits':>4} {'outlier':8} {'scales':10} {'error':>7} {'rotated':>8}   {'median row':>10} {'rotated':>8}"]
    for plain, rotated in zip(results[::2], results[1::2]):
        lines.append(
            f"{plain.bits:4} {plain.kind:8} {'per ' + plain.scale:10} {plain.relative_error:7.4f} "
            f"{rotated.relative_error:8.4f}   {plain.median_row_error:10.4f} {rotated.median_row_error:8.4f}"
        )
    return "\n".join(lines)


# The rows notebook 10 measures live on MiniLM (benchmarks/activations.py prints all of compare.methods(), both models).
NOTEBOOK_ROWS = (
    "W8A8 per-tensor",
    "W8A8 per-token",
    "LLM.int8() t=6",
    "SmoothQuant a=0.5 per-tensor",
    "Rotation per-tensor",
    "W4A4 per-token",
    "W4A4 rotation per-token",
)


def notebook_table(progress=None):
    """NOTEBOOK_ROWS measured on MiniLM's 40 sentences (embedding cosine to FP32), with the shared bench."""
    rows = [m for m in compare.methods() if m.label in NOTEBOOK_ROWS]
    return compare.comparison_table(layers.bench(), rows, models=("minilm",), progress=progress)


def comparison_text(table):
    """MiniLM rows as text (mean and worst sentence cosine to FP32), then what the papers report, with sources."""
    lines = [f"{'method (every encoder linear)':32} {'W':>2} {'A':>2} {'mean cos':>9} {'1 - mean':>9} {'worst':>7}"]
    for r in table:
        lines.append(
            f"{r['method']:32} {r['W']:>2} {r['A']:>2} {r['minilm_mean_cos']:9.5f} "
            f"{1 - r['minilm_mean_cos']:9.2e} {r['minilm_min_cos']:7.4f}"
        )
    return (
        "\n".join(lines)
        + "\n\nPublished (large models; other metrics, not comparable number for number):\n"
        + claims_text()
        + "\n\nRows of their tables (perplexity: lower is better):\n"
        + table_rows_text()
    )
