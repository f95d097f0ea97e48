"""Where a mix puts its bits: tensor classes, their shares of weights and bytes, per-layer types, fallbacks.

Plain functions over recipes.explain_types' TensorChoice lists, returning numbers and text tables (the
notebook prints them; plots.mixes draws them).
"""

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..ggml import FORMATS
from . import recipes

# GGML types in the order tables and type maps list them (fewest bits first).
TYPE_ORDER = ("Q2_K", "Q3_K", "IQ4_NL", "Q4_0", "Q4_K", "Q4_1", "Q5_0", "Q5_K", "Q5_1", "Q6_K", "Q8_0", "F16", "F32")

CLASS_ORDER = (
    "token_embd",
    "output",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
    "1-D (norms)",
)
LAYER_CLASSES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def tensor_class(choice):
    """The class a TensorChoice is counted in: its llama.cpp category, or '1-D (norms)' if never quantized."""
    if not recipes.quantizable(choice.name, choice.shape):
        return "1-D (norms)"
    return choice.category


@dataclass(frozen=True)
class ClassShare:
    """One tensor class under a mix: how many weights and bytes, and which types its tensors got."""

    name: str
    n_weights: int
    n_bytes: int
    type_counts: dict

    @property
    def bits_per_weight(self):
        return 8 * self.n_bytes / self.n_weights if self.n_weights else 0.0

    def types_text(self):
        """'Q6_K x16, Q4_K x16': the types, most tensors first."""
        return ", ".join(f"{t} x{n}" for t, n in sorted(self.type_counts.items(), key=lambda item: -item[1]))


def class_shares(choices):
    """ClassShare per tensor class present in `choices` (from recipes.explain_types), in CLASS_ORDER."""
    weights, n_bytes, types = Counter(), Counter(), {}
    for choice in choices:
        kind = tensor_class(choice)
        weights[kind] += choice.n_weights
        n_bytes[kind] += choice.n_bytes
        types.setdefault(kind, Counter())[choice.type_name] += 1
    order = [c for c in CLASS_ORDER if c in weights] + sorted(set(weights) - set(CLASS_ORDER))
    return [ClassShare(c, weights[c], n_bytes[c], dict(types[c])) for c in order]


def layer_types(choices, n_layer):
    """(len(LAYER_CLASSES), n_layer) array of the type of each per-layer tensor ('' if the layer has none)."""
    grid = np.full((len(LAYER_CLASSES), n_layer), "", dtype=object)
    row = {kind: i for i, kind in enumerate(LAYER_CLASSES)}
    for choice in choices:
        match = re.match(r"blk\.(\d+)\.", choice.name)
        kind = tensor_class(choice)
        if match and kind in row and int(match.group(1)) < n_layer:
            grid[row[kind], int(match.group(1))] = choice.type_name
    return grid


def format_layers(layers, n_layer=None):
    """[0, 1, 2, 3, 6, 9] -> '0-3, 6, 9' ('all 32' when every layer is there)."""
    layers = sorted(set(int(i) for i in layers))
    if n_layer is not None and layers == list(range(n_layer)):
        return f"all {n_layer}"
    runs, start = [], None
    for i, layer in enumerate(layers):
        if start is None:
            start = layer
        if i + 1 == len(layers) or layers[i + 1] != layer + 1:
            runs.append(str(start) if start == layer else f"{start}-{layer}")
            start = None
    return ", ".join(runs)


def _rule(reason):
    """A reason without its per-layer detail, so the tensors one rule chose group together."""
    return re.sub(r" \(\d+ of \d+\)", "", reason)


def rules_table(choices, n_layer=None):
    """Text: for each tensor class and type, how many tensors, in which layers, and the rule that chose it."""
    groups = {}
    for choice in choices:
        key = (tensor_class(choice), choice.type_name, _rule(choice.reason))
        groups.setdefault(key, []).append(choice)
    order = {c: i for i, c in enumerate(CLASS_ORDER)}
    lines = [f"{'class':<12}{'type':<6}{'count':>6}  layers / rule"]
    for (kind, type_name, rule), members in sorted(groups.items(), key=lambda g: (order.get(g[0][0], 99), -len(g[1]))):
        layers = [int(m.name.split(".")[1]) for m in members if m.name.startswith("blk.")]
        where = f"layers {format_layers(layers, n_layer)}" if layers and kind != "1-D (norms)" else ""
        lines.append(f"{kind:<12}{type_name:<6}{len(members):>6}  {where}")
        if kind != "1-D (norms)":
            lines.append(f"{'':<26}{rule}")
    return "\n".join(lines)


def type_count_table(types, shapes):
    """Text: tensors per class (rows) and type (columns), for {name: type} such as GGUFFile.types()."""
    counts = {}
    for name, type_name in types.items():
        kind = tensor_class(recipes.TensorChoice(name, tuple(shapes[name]), recipes.category(name), type_name, ""))
        counts.setdefault(kind, Counter())[type_name] += 1
    columns = [t for t in TYPE_ORDER if any(t in c for c in counts.values())]
    order = [c for c in CLASS_ORDER if c in counts] + sorted(set(counts) - set(CLASS_ORDER))
    lines = [f"{'class':<13}" + "".join(f"{t:>6}" for t in columns) + f"{'all':>6}"]
    for kind in order:
        lines.append(
            f"{kind:<13}"
            + "".join(f"{counts[kind].get(t, 0) or '.':>6}" for t in columns)
            + f"{sum(counts[kind].values()):>6}"
        )
    totals = Counter()
    for c in counts.values():
        totals.update(c)
    lines.append(f"{'all':<13}" + "".join(f"{totals[t]:>6}" for t in columns) + f"{sum(totals.values()):>6}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Fallback:
    """A tensor whose rows are not whole blocks of the type the rules wanted, so it got another type."""

    name: str
    shape: tuple
    wanted: str
    got: str
    extra_bytes: int  # what the fallback costs over the wanted type (same weights)


def fallbacks(tensors, mix, **options):
    """Tensors that got a fallback type because their rows are not whole 256-weight blocks.

    'wanted' is what the rules pick for the same tensor with rows padded to a multiple of 256 (the
    layer counts and head ratio do not depend on the row length), 'got' what they pick for the real
    rows. Computed by running the rules twice, not by reading their explanations.
    """
    options = dict(options)
    shape_order = options.pop("shape_order", "gguf")
    if shape_order == "numpy":
        tensors = {name: tuple(shape)[::-1] for name, shape in tensors.items()}
    got = {c.name: c for c in recipes.explain_types(tensors, mix, **options)}
    padded = {
        name: (-(-shape[0] // 256) * 256, *shape[1:]) if len(shape) > 1 else tuple(shape)
        for name, shape in tensors.items()
    }
    wanted = {c.name: c for c in recipes.explain_types(padded, mix, **options)}
    found = []
    for name, choice in got.items():
        if choice.type_name != wanted[name].type_name:
            fmt = FORMATS[wanted[name].type_name]
            wanted_bytes = choice.n_weights * fmt.bytes_per_block / fmt.block_size
            found.append(
                Fallback(
                    name,
                    choice.shape,
                    wanted[name].type_name,
                    choice.type_name,
                    int(round(choice.n_bytes - wanted_bytes)),
                )
            )
    return found
