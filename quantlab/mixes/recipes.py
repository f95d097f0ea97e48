"""llama.cpp's quantization mixes: which GGML type each tensor of a model gets under Q4_K_M & co.

A mix (llama.cpp calls it a file type, LLAMA_FTYPE_MOSTLY_*) is not one type. Every tensor starts
from the mix's base type (Q4_K for Q4_K_M); rules then give more bits to the tensors that hurt most
when rounded (attn_v, ffn_down, the output matrix) in some layers, and a tensor whose rows are not a
whole number of blocks falls back to a type with 32-weight blocks. Norms and other 1-D tensors are
never quantized.

    choose_types({"blk.0.attn_v.weight": (4096, 4096), ...}, "Q4_K_M")   # {name: "Q6_K", ...}
    explain_types(tensors, "Q4_K_M")   # the same, with the rule behind each choice

Shapes are in GGUF order: shape[0] is the row length (ggml's ne[0], the contiguous axis), as
llama-quantize prints them: token_embd.weight of Llama-2-7B is (4096, 32000). A numpy array of the
same tensor has the reversed shape (32000, 4096).

Source: llama.cpp's src/llama-quant.cpp, read at two commits (line numbers below are at 0c1e57098
unless marked 2025):
- rules="2026": llama.cpp@0c1e57098 (vendored in llama-cpp-python 0.3.36): functions
  llama_tensor_get_type_impl, tensor_type_fallback, tensor_allows_quantization, tensor_get_category.
- rules="2025": llama.cpp@4227c9be (vendored in llama-cpp-python 0.3.16, August 2025): function
  llama_tensor_get_type. It differs in two places only for the mixes here: Q2_K/Q3_K rows that
  are not whole 256-blocks fall back to IQ4_NL (not Q4_0), and fused attn_qkv has its own rule.
The rules are restated below in our own words, with the C branch each one comes from.
"""

import re
import warnings
from dataclasses import dataclass

import numpy as np

from ..ggml import FORMATS

# mix -> base type (llama_ftype_get_default_type). F16/F32 are "mixes" with no rules: every
# quantizable tensor simply gets that type (the rules only run when the base type is quantized).
BASE_TYPES = {
    "Q2_K": "Q2_K",
    "Q3_K_S": "Q3_K",
    "Q3_K_M": "Q3_K",
    "Q3_K_L": "Q3_K",
    "Q4_0": "Q4_0",
    "Q4_1": "Q4_1",
    "Q5_0": "Q5_0",
    "Q5_1": "Q5_1",
    "Q4_K_S": "Q4_K",
    "Q4_K_M": "Q4_K",
    "Q5_K_S": "Q5_K",
    "Q5_K_M": "Q5_K",
    "Q6_K": "Q6_K",
    "Q8_0": "Q8_0",
    "F16": "F16",
    "F32": "F32",
}
MIXES = tuple(BASE_TYPES)
RULES = ("2026", "2025")

# tensor_allows_quantization (l. 287-386): besides 1-D tensors and norms, these keep their source type.
# (Name fragments from both commits; the expert router, small per-layer tables of Gemma 3n,
# position/token-type embeddings, small conv kernels, RWKV's mixing vectors, T5's bias, and
# multimodal projector parts.)
_NEVER_QUANTIZED = (
    "_norm.weight",
    "ffn_gate_inp.weight",
    "ffn_gate_tid2eid.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",
    "indexer.q_proj.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
    ".position_embd",
    "sam.pos_embd",
    "sam.neck.",
    "sam.net_",
    ".rel_pos",
    ".patch_embd",
    ".patch_merger",
    "a.rvq.codebook",
    "mm.a.code_embd",
)
_NEVER_QUANTIZED_EXACT = ("position_embd.weight", "token_types.weight")

# Architectures whose loader calls an 80-layer model "70B" (src/models/*.cpp); llama only with GQA
# (an 80-layer llama without GQA is LLaMA-1 65B). jais2's 70B has 68 layers.
_SEVENTY_B_LAYERS = {"llama": 80, "qwen2": 80, "deci": 80, "olmo": 80, "jais2": 68}

_GGUF_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_LAYER = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True)
class TensorChoice:
    """One tensor's type under a mix, and why (the llama.cpp rule that chose it)."""

    name: str
    shape: tuple  # GGUF order: shape[0] is the row length
    category: str  # output, token_embd, attn_v, attn_k, attn_q, attn_output, ffn_down, ...
    type_name: str
    reason: str

    @property
    def n_weights(self):
        n = 1
        for dim in self.shape:
            n *= dim
        return n

    @property
    def n_bytes(self):
        return FORMATS[self.type_name].n_bytes(self.n_weights)


def more_bits(i_layer, n_layer):
    """llama.cpp's use_more_bits (l. 452): the first and last eighth of the layers, and every third one between.

    For 32 layers: 0-3, 6, 9, ..., 27 and 28-31 (16 of 32).
    """
    return i_layer < n_layer // 8 or i_layer >= 7 * n_layer // 8 or (i_layer - n_layer // 8) % 3 == 2


def category(name, rules="2026"):
    """The broad kind of a tensor, from its GGUF name (tensor_get_category, l. 119; 2025: the if-chain order)."""
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    if rules == "2025":  # the 2025 code matched names in this order, and qkv had its own branch
        order = (
            "attn_v.weight",
            "attn_k.weight",
            "attn_q.weight",
            "ffn_down",
            "attn_output.weight",
            "attn_qkv.weight",
            "ffn_gate",
            "ffn_up",
        )
    else:
        order = (
            "attn_qkv.weight",
            "attn_kv_b.weight",
            "attn_v.weight",
            "attn_k.weight",
            "attn_q.weight",
            "attn_output.weight",
            "ffn_up",
            "ffn_gate",
            "ffn_down",
        )
    for fragment in order:
        if fragment in name:
            return fragment.removesuffix(".weight")
    return "other"


def _is_attn_v_like(kind, rules):
    """Tensors that take attn_v's rules: in 2026 also fused qkv and MLA's kv_b (category_is_attn_v, l. 157)."""
    return kind == "attn_v" or (rules == "2026" and kind in ("attn_qkv", "attn_kv_b"))


def _counted_as_attn_v(name):
    """Tensors counted in n_attention_wv (init_quantize_state_counters, l. 927; 2025 l. 704-717)."""
    return any(f in name for f in ("attn_v.weight", "attn_qkv.weight", "attn_kv_b.weight"))


def _n_dims(shape):
    """ggml_n_dims (ggml.c): trailing dimensions of 1 do not count, so (4096, 1) is 1-D."""
    n = len(shape)
    while n > 1 and shape[n - 1] == 1:
        n -= 1
    return n


def quantizable(name, shape):
    """Whether llama.cpp quantizes this tensor at all (tensor_allows_quantization, l. 287-386)."""
    if _n_dims(shape) < 2 or not name.endswith("weight"):
        return False
    return name not in _NEVER_QUANTIZED_EXACT and not any(f in name for f in _NEVER_QUANTIZED)


# --- the rules, one function per tensor kind; each returns (type, reason) ------------------------
# `ctx` holds the model-wide facts: mix, base, n_gqa, n_expert, architecture, is_70b, imatrix,
# plus this tensor's row length and (for attn_v / ffn) its position among the layers.


def _output_rule(ctx):
    # l. 490-524: OUTPUT, or TOKEN_EMBD when there is no output.weight (tied: one matrix does both)
    what = "token_embd, also the output matrix (tied)" if ctx["tied"] else "output matrix"
    if ctx["architecture"] == "falcon":
        return "Q8_0", f"{what} of Falcon: Q8_0"
    if ctx["row_length"] % FORMATS[ctx["base"]].block_size:
        return "Q8_0", f"{what}, rows of {ctx['row_length']} not whole {ctx['base']} blocks: Q8_0"
    if ctx["base"] != "Q8_0":
        return "Q6_K", f"{what}: Q6_K in every mix below Q8_0"
    return "Q8_0", f"{what} of Q8_0: Q8_0"


def _attn_v_rule(ctx):
    # l. 567-604: the attn_v branch (category_is_attn_v)
    mix, base, i, n = ctx["mix"], ctx["base"], ctx["i_attn_v"], ctx["n_attn_v"]
    new, reason = base, "attn_v: base type"
    if mix == "Q2_K":
        new, reason = (
            ("Q4_K", "attn_v of Q2_K with grouped-query attention (n_gqa >= 4): Q4_K")
            if ctx["n_gqa"] >= 4
            else ("Q3_K", "attn_v of Q2_K: Q3_K")
        )
    elif mix == "Q3_K_M":
        new, reason = (
            ("Q5_K", "attn_v of Q3_K_M, first 2 layers: Q5_K") if i < 2 else ("Q4_K", "attn_v of Q3_K_M: Q4_K")
        )
    elif mix == "Q3_K_L":
        new, reason = "Q5_K", "attn_v of Q3_K_L: Q5_K"
    elif mix in ("Q4_K_M", "Q5_K_M") and more_bits(i, n):
        new, reason = "Q6_K", f"attn_v of {mix}, a use_more_bits layer ({i} of {n}): Q6_K"
    elif mix == "Q4_K_S" and i < 4:
        new, reason = "Q5_K", "attn_v of Q4_K_S, first 4 layers: Q5_K"
    if ctx["is_70b"] and new in ("Q3_K", "Q4_K"):
        new, reason = "Q5_K", "attn_v of a 70B model (8 heads share V, so V is small): Q5_K"
    if ctx["n_expert"] == 8:
        new, reason = "Q8_0", "attn_v of an 8-expert model: Q8_0"
    return new, reason


def _attn_k_rule(ctx):
    # l. 605-617 (the IQ3 rules there concern mixes we do not model)
    if ctx["n_expert"] == 8:
        return "Q8_0", "attn_k of an 8-expert model: Q8_0"
    return ctx["base"], "attn_k: base type"


def _ffn_down_rule(ctx):
    # l. 624-668; i_layer comes from layer_info (l. 456): a counter, or the name for MoE models
    mix, base, i, n = ctx["mix"], ctx["base"], ctx["i_layer"], ctx["n_layer"]
    falcon = ctx["architecture"] == "falcon"
    if mix == "Q2_K":
        return "Q3_K", "ffn_down of Q2_K: Q3_K"
    if mix == "Q3_K_M":
        if i < n // 16:
            return "Q5_K", "ffn_down of Q3_K_M, first sixteenth of the layers: Q5_K"
        if not falcon or more_bits(i, n):
            return "Q4_K", "ffn_down of Q3_K_M: Q4_K"
        return "Q3_K", "ffn_down of Q3_K_M (Falcon, not a use_more_bits layer): Q3_K"
    if mix == "Q3_K_L":
        return ("Q4_K", "ffn_down of Q3_K_L (Falcon): Q4_K") if falcon else ("Q5_K", "ffn_down of Q3_K_L: Q5_K")
    if mix == "Q4_K_M":
        if falcon:
            if i < n // 16:
                return "Q6_K", "ffn_down of Q4_K_M (Falcon), first sixteenth: Q6_K"
            return (
                ("Q5_K", "ffn_down of Q4_K_M (Falcon), use_more_bits layer: Q5_K")
                if more_bits(i, n)
                else (base, "ffn_down of Q4_K_M (Falcon): base type")
            )
        if more_bits(i, n):
            return "Q6_K", f"ffn_down of Q4_K_M, a use_more_bits layer ({i} of {n}): Q6_K"
        return base, "ffn_down of Q4_K_M, other layers: base type"
    if mix == "Q5_K_M" and more_bits(i, n):
        return "Q6_K", f"ffn_down of Q5_K_M, a use_more_bits layer ({i} of {n}): Q6_K"
    if mix == "Q4_K_S" and not falcon and i < n // 8:
        return "Q5_K", "ffn_down of Q4_K_S, first eighth of the layers: Q5_K"
    if mix in ("Q4_0", "Q5_0") and ctx["imatrix"] and i < n // 8:
        new = "Q4_1" if mix == "Q4_0" else "Q5_1"
        return new, f"ffn_down of {mix} with an importance matrix, first eighth: {new}"
    return base, "ffn_down: base type"


def _attn_output_rule(ctx):
    # l. 669-690
    mix, base = ctx["mix"], ctx["base"]
    if ctx["architecture"] == "falcon":
        return ("Q4_K", "attn_output of Q3_K_L (Falcon): Q4_K") if mix == "Q3_K_L" else (base, "attn_output: base type")
    if ctx["n_expert"] == 8:
        if mix in ("Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_S", "Q4_K_M"):
            return "Q5_K", f"attn_output of an 8-expert model under {mix}: Q5_K"
        return base, "attn_output: base type"
    bumped = {"Q2_K": "Q3_K", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K"}
    if mix in bumped:
        return bumped[mix], f"attn_output of {mix}: {bumped[mix]}"
    return base, "attn_output: base type"


def _attn_qkv_rule_2025(ctx):
    # 2025 only, l. 401-407 of 4227c9be: fused QKV had its own branch (in 2026 it takes attn_v's rules)
    bumped = {"Q3_K_M": "Q4_K", "Q3_K_L": "Q4_K", "Q4_K_M": "Q5_K", "Q5_K_M": "Q6_K"}
    mix = ctx["mix"]
    if mix in bumped:
        return bumped[mix], f"fused attn_qkv of {mix}: {bumped[mix]}"
    return ctx["base"], "attn_qkv: base type"


# Fallback for rows that are not whole blocks (tensor_type_fallback, l. 390-444; 2025: l. 436-474 of
# 4227c9be): the 256-weight K types step down to a 32-weight type of at least as many bits.
_FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
_FALLBACK_LOW_BITS = {"2026": "Q4_0", "2025": "IQ4_NL"}  # for Q2_K and Q3_K


def fallback_type(new, row_length, rules):
    """The type actually used when `new` does not fit rows of `row_length` (else `new` itself)."""
    fmt = FORMATS[new]
    if row_length % fmt.block_size == 0:
        return new, None
    if new in ("Q2_K", "Q3_K"):
        target = _FALLBACK_LOW_BITS[rules]
    elif new in _FALLBACK:
        target = _FALLBACK[new]
    elif fmt.block_size <= 32 and rules == "2026":
        target = new  # already a 32-weight type: nothing smaller to step down to -> F16 below
    else:
        raise ValueError(
            f"a row of {row_length} weights is not a whole number of {new} blocks of {fmt.block_size}, and "
            f"llama.cpp ({rules}) has no fallback for it (it stops with 'Unsupported tensor size'); "
            f"use rules='2026', which falls back to F16"
        )
    if row_length % FORMATS[target].block_size:
        target = "F16"  # "must use F16 due to unusual shape"
    return target, f"rows of {row_length} are not whole {new} blocks of {fmt.block_size}: fallback {new} -> {target}"


# --- model-wide facts ------------------------------------------------------------------------------


def _layer_of(name):
    match = _LAYER.match(name)
    return int(match.group(1)) if match else -1


def _is_whole_number(d):
    if isinstance(d, (bool, np.bool_)):
        return False
    return isinstance(d, (int, np.integer)) or (isinstance(d, (float, np.floating)) and float(d).is_integer())


def _check_shape(name, shape):
    """A GGUF shape as a tuple of ints; strings, scalars, NaN and fractions are refused by name."""
    expected = "a tuple of ints in GGUF order (row length first), e.g. (4096, 4096)"
    if isinstance(shape, (str, bytes)):
        raise TypeError(f"shape of {name!r} must be {expected}, got the string {shape!r}")
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"shape of {name!r} must be {expected}, got {shape!r}") from None
    if not all(_is_whole_number(d) for d in dims):
        raise TypeError(f"shape of {name!r} must hold whole numbers: {expected}, got {shape!r}")
    return tuple(int(d) for d in dims)


def _check_count(name, value, minimum):
    """An optional hyperparameter: None, or an int >= minimum."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum):
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum} (or left out to read it off the tensors)")


def _check_tensors(tensors):
    """Validate {name: GGUF shape}; return {name: tuple of ints}."""
    if not hasattr(tensors, "items"):
        raise TypeError(
            f"tensors must map GGUF tensor names to shapes, e.g. "
            f"{{'blk.0.attn_q.weight': (4096, 4096)}}; got {type(tensors).__name__}"
        )
    if not tensors:
        raise ValueError("tensors is empty; pass every tensor of the model as {name: GGUF shape}")
    checked = {}
    for name, shape in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings such as 'blk.0.attn_q.weight', got {name!r}")
        if not _GGUF_NAME.match(name):
            raise ValueError(
                f"tensor name {name!r} is not a GGUF tensor name such as 'blk.0.attn_q.weight' "
                f"(letters, digits, '_' and '.')"
            )
        dims = _check_shape(name, shape)
        if not 1 <= len(dims) <= 4:
            raise ValueError(f"shape of {name!r} has {len(dims)} dimensions; GGUF tensors have 1 to 4")
        if min(dims) <= 0:
            raise ValueError(
                f"shape of {name!r} is {dims}: every dimension must be at least 1 "
                f"(a tensor with a zero dimension holds no weights; drop it)"
            )
        checked[name] = dims
    if not any(name.startswith("blk.") or category(name) != "other" for name in checked):
        example = next(iter(checked))
        raise ValueError(
            f"none of the tensor names is a GGUF name (e.g. {example!r}); llama.cpp's rules match "
            f"GGUF names such as 'blk.0.attn_v.weight' or 'token_embd.weight' (Hugging Face's "
            f"'model.layers.0.self_attn.v_proj.weight' is GGUF's 'blk.0.attn_v.weight')"
        )
    return checked


def _head_ratio(tensors):
    """n_head / n_head_kv from layer 0's attn_q and attn_k widths (assumes equal head sizes)."""
    q = next((s for n, s in tensors.items() if "attn_q.weight" in n and len(s) >= 2), None)
    k = next((s for n, s in tensors.items() if "attn_k.weight" in n and len(s) >= 2), None)
    if q is None or k is None or q[1] % k[1]:
        return 1
    return q[1] // k[1]


def model_facts(
    tensors, *, n_layer=None, n_head=None, n_head_kv=None, n_expert=None, architecture="llama", is_70b=None
):
    """The hyperparameters the rules use, taken from the arguments or guessed from the tensors.

    n_layer: highest blk.N + 1; n_gqa = n_head // n_head_kv, else attn_q's width over attn_k's;
    n_expert: the third dimension of a 3-D *_exps tensor, else 0; is_70b: llama.cpp's own guess
    (80 layers for llama with GQA, qwen2, deci, olmo; 68 for jais2).
    """
    tensors = _check_tensors(tensors)
    for key, value, minimum in (("n_head", n_head, 1), ("n_head_kv", n_head_kv, 0), ("n_expert", n_expert, 0)):
        _check_count(key, value, minimum)
    if architecture is not None and not isinstance(architecture, str):
        raise TypeError(f"architecture={architecture!r} must be a llama.cpp architecture name such as 'llama'")
    layers = [_layer_of(name) for name in tensors]
    found = max(layers) + 1
    if n_layer is None:
        n_layer = found
    elif isinstance(n_layer, bool) or not isinstance(n_layer, (int, np.integer)) or n_layer < found:
        raise ValueError(
            f"n_layer={n_layer!r}, but the tensors go up to blk.{found - 1}; pass n_layer >= {found} "
            f"or leave it out to count the layers"
        )
    if (n_head is None) != (n_head_kv is None):
        raise ValueError("pass both n_head and n_head_kv (or neither, to compare attn_q's and attn_k's widths)")
    if n_head is not None:
        if n_head <= 0 or n_head_kv < 0:
            raise ValueError(
                f"n_head={n_head} and n_head_kv={n_head_kv} must be positive (n_head_kv may be 0 "
                f"for layers without attention)"
            )
        n_gqa = n_head // n_head_kv if n_head_kv else 0
    else:
        n_gqa = _head_ratio(tensors)
    if n_expert is None:
        n_expert = max((s[2] for n, s in tensors.items() if "_exps" in n and len(s) >= 3), default=0)
    architecture = (architecture or "llama").lower()
    if is_70b is None:
        gqa = n_gqa > 1
        is_70b = n_layer == _SEVENTY_B_LAYERS.get(architecture) and (architecture != "llama" or gqa)
    return {
        "n_layer": n_layer,
        "n_gqa": n_gqa,
        "n_expert": n_expert,
        "architecture": architecture,
        "is_70b": bool(is_70b),
    }


def _check_mix(mix):
    if not isinstance(mix, str) or mix.upper() not in BASE_TYPES:
        raise ValueError(f"mix={mix!r} is not a llama.cpp mix we know; choose one of {', '.join(MIXES)}")
    return mix.upper()


def explain_types(
    tensors,
    mix,
    *,
    rules="2026",
    imatrix=False,
    unquantized_type="F32",
    warn_unmatched=True,
    shape_order="gguf",
    **hparams,
):
    """Every tensor's type under `mix`, with the rule that chose it, in llama.cpp's order.

    `tensors` maps GGUF names to GGUF shapes (shape[0] = row length); pass shape_order="numpy" for
    shapes in numpy order (rows, row length), e.g. arrays' .shape. hparams: n_layer, n_head,
    n_head_kv, n_expert, architecture, is_70b (see model_facts for the defaults). Tensors llama.cpp
    never quantizes (1-D, norms, ...) keep `unquantized_type`: F32, as the converter writes them.
    A quantized tensor whose name matches no rule gets the base type, as in llama.cpp, with a
    warning (a misspelt name would otherwise pass silently; warn_unmatched=False for models with
    such tensors, e.g. Mamba's ssm_in). Names that are not GGUF names at all are an error.
    """
    mix = _check_mix(mix)
    if not isinstance(rules, str) or rules not in RULES:
        raise ValueError(f"rules={rules!r} is not known; choose '2026' (llama.cpp@0c1e57098) or '2025' (@4227c9be)")
    if not isinstance(imatrix, (bool, np.bool_)):
        raise TypeError(
            f"imatrix={imatrix!r} must be True or False: whether the model is quantized with an "
            f"importance matrix (the rules only ask whether there is one)"
        )
    if not isinstance(unquantized_type, str) or unquantized_type not in ("F32", "F16"):
        raise ValueError(
            f"unquantized_type={unquantized_type!r}; tensors llama.cpp leaves alone are 'F32' "
            f"(1-D, as converted) or 'F16'"
        )
    unknown = set(hparams) - {"n_layer", "n_head", "n_head_kv", "n_expert", "architecture", "is_70b"}
    if unknown:
        raise TypeError(
            f"unknown hyperparameter(s) {sorted(unknown)}; use n_layer, n_head, n_head_kv, "
            f"n_expert, architecture, is_70b"
        )
    if not isinstance(shape_order, str) or shape_order not in ("gguf", "numpy"):
        raise ValueError(
            f"shape_order={shape_order!r}; use 'gguf' (row length first, as llama.cpp prints) "
            f"or 'numpy' (row length last, as array.shape)"
        )
    tensors = _check_tensors(tensors)
    if shape_order == "numpy":
        tensors = {name: shape[::-1] for name, shape in tensors.items()}
    facts = model_facts(tensors, **hparams)
    base = BASE_TYPES[mix]
    tied = "output.weight" not in tensors
    # llama.cpp visits tensors sorted by layer number, then name (weight_name_comparer); the
    # attn_v and ffn counters below depend on that order.
    order = sorted(tensors, key=lambda name: (_layer_of(name), name))
    n_attn_v = sum(_counted_as_attn_v(name) for name in order)
    counters = {"attn_v": 0, "ffn_down": 0, "ffn_gate": 0, "ffn_up": 0}
    choices = []
    for name in order:
        shape = tensors[name]
        kind = category(name, rules)
        if not quantizable(name, shape):
            choices.append(
                TensorChoice(
                    name, shape, kind, unquantized_type, "never quantized (1-D, a norm, or a small special tensor)"
                )
            )
            continue
        if base in ("F16", "F32"):
            choices.append(TensorChoice(name, shape, kind, base, f"{mix}: every quantizable tensor"))
            continue
        ctx = dict(
            facts,
            mix=mix,
            base=base,
            imatrix=imatrix,
            row_length=shape[0],
            tied=tied,
            i_attn_v=counters["attn_v"],
            n_attn_v=n_attn_v,
        )
        if kind in ("ffn_down", "ffn_gate", "ffn_up"):
            # dense models count these tensors; MoE models read the layer from the name (layer_info)
            ctx["i_layer"] = _layer_of(name) if facts["n_expert"] > 1 else counters[kind]
            if facts["n_expert"] > 1 and not 0 <= ctx["i_layer"] < facts["n_layer"]:
                raise ValueError(f"cannot place {name!r} in a layer 0..{facts['n_layer'] - 1}")
            counters[kind] += 1
        if kind == "output" or (tied and kind == "token_embd"):
            new, reason = _output_rule(ctx)
        elif kind == "token_embd":
            new, reason = base, "token embeddings (a separate output matrix exists): base type"
        elif _is_attn_v_like(kind, rules):
            new, reason = _attn_v_rule(ctx)
            counters["attn_v"] += 1
        elif kind == "attn_k":
            new, reason = _attn_k_rule(ctx)
        elif kind == "ffn_down":
            new, reason = _ffn_down_rule(ctx)
        elif kind == "attn_output":
            new, reason = _attn_output_rule(ctx)
        elif kind == "attn_qkv":  # 2025 only: in 2026 qkv is attn_v-like
            new, reason = _attn_qkv_rule_2025(ctx)
        else:
            new, reason = base, f"{kind}: base type"
        fitted, why = fallback_type(new, shape[0], rules)
        choices.append(TensorChoice(name, shape, kind, fitted, reason if why is None else f"{reason}; {why}"))
    unmatched = [c.name for c in choices if c.category == "other" and c.reason.startswith("other")]
    if unmatched and warn_unmatched:
        warnings.warn(
            f"{len(unmatched)} tensor(s) match no mixing rule and get {mix}'s base type {base}, as in "
            f"llama.cpp (check the names if that is unexpected): {', '.join(unmatched[:4])}"
            f"{' ...' if len(unmatched) > 4 else ''}",
            stacklevel=3,
        )
    return choices


def choose_types(tensors, mix, **options):
    """{tensor name: GGML type name} under llama.cpp's `mix` (see explain_types for the options)."""
    return {choice.name: choice.type_name for choice in explain_types(tensors, mix, **options)}


def bits_per_weight(tensors, mix, **options):
    """Total bits stored over total weights, every tensor included (as llama.cpp prints BPW)."""
    choices = explain_types(tensors, mix, **options)
    return 8 * sum(c.n_bytes for c in choices) / sum(c.n_weights for c in choices)
