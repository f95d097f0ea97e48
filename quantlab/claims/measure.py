"""The article's checkable claims, recomputed with quantlab: each function returns a Finding (numbers + text).

The first two functions restate the article's own symmetric-quantization snippet, so that its printed
numbers can be compared with what its code really does; everything else uses quantlab's quantizers,
llama.cpp's mixing rules (quantlab.mixes) and the published tables in quantlab.mixes.published.
"""

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_bits
from ..ggml import anatomy, dequantize, fields, format_info, quantize
from ..lm.reports import LLAMA_2_7B_F16_PPL
from ..memory import GB, GIB, weight_bytes
from ..mixes import recipes, sizes
from ..mixes.classes import class_shares
from ..mixes.published import ARTICLE_LLAMA_2_7B, LLAMA_2_7B_QUALITY, LLAMA_3_8B_QUALITY
from ..uniform import quantize as uniform_quantize

LLAMA_2_7B = sizes.ARCHITECTURES["Llama-2-7B"]


@dataclass(frozen=True)
class Finding:
    """What a computation found: its numbers (for tests) and a few lines of text (for the notebook)."""

    values: dict
    text: str

    def __str__(self):
        return self.text


def article_quantize_symmetric(weights, bits=8):
    """The article's symmetric quantizer: one scale max|w| / (2^(b-1) - 1), round, clip, int8 codes."""
    weights, bits = as_float_array(weights, "weights"), check_bits(bits, 2, 8)
    max_val = np.max(np.abs(weights))
    scale = max_val / (2 ** (bits - 1) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        codes = np.round(weights / scale).clip(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return codes, scale  # the article casts to int8 here; kept as floats so a NaN stays visible


def article_mse(weights, bits=4):
    """The article's `normal_mse`: mean squared error of its symmetric quantize-dequantize."""
    codes, scale = article_quantize_symmetric(weights, bits)
    return float(np.mean((weights - codes.astype(np.float32) * scale) ** 2))


def _seeds(seeds):
    """The seeds as a list, refusing an empty one."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty; pass e.g. range(200)")
    return seeds


def _count(value, name, minimum):
    """An integer count of at least `minimum`, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer of at least {minimum}")
    return int(value)


def model_memory(n_params=7e9):
    """Weights of an n_params model in fp32 and fp16, in GB (10^9 bytes) and GiB (2^30 bytes)."""
    values = {}
    for name, bits in (("fp32", 32), ("fp16", 16)):
        size = weight_bytes(n_params, bits)
        values[name] = {"GB": size / GB, "GiB": size / GIB}
    lines = [f"{name}: {v['GB']:.1f} GB = {v['GiB']:.2f} GiB" for name, v in values.items()]
    return Finding(values, f"{n_params / 1e9:g}B weights\n" + "\n".join(lines))


def article_code_range(bits=4, seeds=range(20)):
    """Lowest and highest code the article's symmetric quantizer produces, over mixed-sign weights."""
    codes = np.concatenate(
        [article_quantize_symmetric(np.random.default_rng(s).standard_t(3, 4096), bits)[0] for s in _seeds(seeds)]
    )
    low, high = int(codes.min()), int(codes.max())
    text = f"{bits}-bit codes used: {low}..{high} ({high - low + 1} levels); its clip allows {-(2 ** (bits - 1))}"
    return Finding({"lowest": low, "highest": high, "levels": high - low + 1, "bits": bits}, text)


def article_outlier_step(n=4096, std=0.1, outlier=10.0, bits=4, seed=0):
    """The article's example: weights in about ±0.5 plus ±`outlier`; its code's step, and where the weights go."""
    w = np.random.default_rng(seed).normal(0.0, std, _count(n, "n", 3)).astype(np.float32)
    w[:2] = outlier, -outlier
    codes, scale = article_quantize_symmetric(w, bits)
    small = np.abs(w) <= 0.5
    values = {
        "step": float(scale),
        "article_step": 2 * outlier / 15,
        "share_in_half": float(np.mean(small)),
        "codes_of_small": sorted({int(c) for c in codes[small]}),
    }
    text = (
        f"step = {outlier:g} / {2 ** (bits - 1) - 1} = {scale:.4f} (the article: 20 / 15 = {2 * outlier / 15:.4f})\n"
        f"{values['share_in_half']:.1%} of the weights lie in ±0.5; the codes they get: {values['codes_of_small']}"
    )
    return Finding(values, text)


def article_outlier_demo(n=1024, std=0.1, outlier=10.0, bits=4, seeds=range(200)):
    """The article's demo (`np.random.randn(1024) * 0.1`, then w[0] = 10) run with its own code over seeds."""
    clean, with_outlier, n = [], [], _count(n, "n", 2)
    for seed in _seeds(seeds):
        w = (np.random.default_rng(seed).standard_normal(n) * std).astype(np.float32)
        clean.append(article_mse(w, bits))
        w[0] = outlier
        with_outlier.append(article_mse(w, bits))
    clean, with_outlier = np.array(clean), np.array(with_outlier)
    ratio = with_outlier / clean
    values = {
        "clean_mse": float(np.median(clean)),
        "outlier_mse": float(np.median(with_outlier)),
        "ratio": float(np.median(ratio)),
        "ratio_5_95": (float(np.percentile(ratio, 5)), float(np.percentile(ratio, 95))),
        "article": (0.000012, 0.008400),
    }
    text = (
        f"median over {len(clean)} seeds: MSE without outlier {values['clean_mse']:.1e} (the article: 1.2e-05), "
        f"with one {values['outlier_mse']:.1e} (the article: 8.4e-03)\n"
        f"ratio: median {values['ratio']:.0f}x, 5-95% {values['ratio_5_95'][0]:.0f}-{values['ratio_5_95'][1]:.0f}x"
        f" (the article: three orders of magnitude)"
    )
    return Finding(values, text)


def grouped_bits_per_weight(bits=4, group_size=32, n=4096):
    """Bits per weight of `bits`-bit codes with an fp32 scale per group, counted from what quantlab stores."""
    w = np.random.default_rng(0).normal(0.0, 0.02, n).astype(np.float32)
    fp32 = uniform_quantize(w, bits, group_size=group_size, scale_dtype="float32").bits_per_weight
    fp16_128 = uniform_quantize(w, bits, group_size=128, scale_dtype="float16").bits_per_weight
    values = {"bits_per_weight": fp32, "overhead": fp32 - bits, "overhead_share": (fp32 - bits) / bits}
    values |= {"fp16_per_128": fp16_128, "smaller_than_fp16": 16 / fp32}
    text = (
        f"{bits}-bit codes + fp32 scale per {group_size}: {fp32:g} bits/weight "
        f"(+{fp32 - bits:g} = {values['overhead_share']:.0%} overhead; {16 / fp32:.1f}x smaller than fp16)\n"
        f"{bits}-bit codes + fp16 scale per 128: {fp16_128:g} bits/weight (the article's 4.125)"
    )
    return Finding(values, text)


def zero_group_codes(group_size=32, bits=4):
    """The article's grouped scale on a group of zeros (padding, pruned weights), beside llama.cpp's Q4_0."""
    w = np.zeros(_count(group_size, "group_size", 1), dtype=np.float32)
    codes, scale = article_quantize_symmetric(w, bits)
    q4_0 = dequantize(quantize(w, "Q4_0"), "Q4_0")
    values = {"scale": float(scale), "codes_finite": bool(np.all(np.isfinite(codes))), "q4_0": q4_0}
    text = (
        f"a group of {group_size} zeros: scale {scale:g}, codes {codes[:3]}... (0/0 before the int8 cast)\n"
        f"llama.cpp's Q4_0 on the same zeros returns all zeros: {bool(np.all(q4_0 == 0))}"
    )
    return Finding(values, text)


def kquant_level_gaps(n=4096, seed=0):
    """Gaps between the 16 levels of every Q4_K sub-block, in units of its step: all 1 on a uniform grid."""
    w = np.random.default_rng(seed).normal(0.0, 0.02, n).astype(np.float32)
    grids = anatomy.sub_block_grids(quantize(w, "Q4_K"), "Q4_K")
    used = grids.step > 0
    gaps = np.diff(grids.levels[used].astype(np.float64), axis=1) / grids.step[used, None]
    values = {"n_sub_blocks": int(used.sum()), "smallest_gap": float(gaps.min()), "largest_gap": float(gaps.max())}
    text = (
        f"{values['n_sub_blocks']} Q4_K sub-blocks of {n:,} gaussian weights: every gap between neighbouring "
        f"levels is {values['smallest_gap']:.4f} to {values['largest_gap']:.4f} steps"
    )
    return Finding(values, text)


def kquant_sub_blocks():
    """Sub-blocks per 256-weight super-block and weights per sub-block, for each K-quant (from its fields)."""
    w = np.zeros(256, dtype=np.float32)
    values = {}
    for name in ("Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"):
        n_sub = fields(quantize(w, name), name)["scales"].shape[1]
        values[name] = (n_sub, format_info(name).block_size // n_sub)
    text = "\n".join(f"{name}: {n} sub-blocks of {size}" for name, (n, size) in values.items())
    return Finding(values, text)


def mix_bits_per_weight(mix="Q4_K_M"):
    """Bits per weight of a mix on three real shapes (llama.cpp's rules), beside its base type's."""
    models = ("Llama-2-7B", "Llama-3.1-8B", "Gemma-3-270M")
    values = {name: sizes.mix_size(sizes.ARCHITECTURES[name], mix).bits_per_weight for name in models}
    values["Q4_K block"] = format_info("Q4_K").bits_per_weight
    text = f"{mix}: " + ", ".join(f"{name} {bpw:.2f}" for name, bpw in values.items()) + " bits/weight"
    return Finding(values, text)


def _class_types(mix, model=LLAMA_2_7B):
    shares = class_shares(recipes.explain_types(model.tensors(), mix, **model.hparams()))
    return {s.name: s.type_counts for s in shares}


def variant_types():
    """Which types Q4_K_S and Q4_K_M give attn_v, attn_output, ffn_down and output on Llama 2 7B; the _L mixes."""
    classes = ("attn_v", "attn_output", "ffn_down", "output")
    values = {mix: {c: _class_types(mix)[c] for c in classes} for mix in ("Q4_K_S", "Q4_K_M")}
    values["L mixes"] = [m for m in recipes.MIXES if m.endswith("_L")]
    lines = [f"{mix}: " + "; ".join(f"{c} {t}" for c, t in values[mix].items()) for mix in ("Q4_K_S", "Q4_K_M")]
    return Finding(values, "\n".join(lines) + f"\nmixes ending in _L: {values['L mixes']}")


def q4_k_m_against_q4_0():
    """Q4_K_M vs Q4_0: bits per weight on Llama 2 7B; llama.cpp's published Llama 3 8B gains (and Q4_K_S's share)."""
    bpw = {mix: sizes.mix_size(LLAMA_2_7B, mix).bits_per_weight for mix in ("Q4_0", "Q4_K_S", "Q4_K_M")}
    increase = {mix: LLAMA_3_8B_QUALITY[mix][2] for mix in ("Q4_0", "Q4_K_S", "Q4_K_M")}
    gain = increase["Q4_0"] - increase["Q4_K_M"]
    share = (increase["Q4_0"] - increase["Q4_K_S"]) / gain
    values = {"bits_per_weight": bpw, "ppl_increase": increase, "format_share": share}
    text = (
        "Llama 2 7B bits/weight: " + ", ".join(f"{m} {b:.2f}" for m, b in bpw.items()) + "\n"
        "Llama 3 8B, published PPL increase: " + ", ".join(f"{m} +{d:.3f}" for m, d in increase.items()) + "\n"
        f"of Q4_K_M's gain over Q4_0, Q4_K_S (the format, no extra bits) already has {share:.0%}"
    )
    return Finding(values, text)


def article_table_sizes():
    """The article's Llama 2 7B bits per weight and GB beside llama.cpp's rules; the F16 / Q4_K_M ratio."""
    rows = {}
    for mix, (bits, gb, _) in ARTICLE_LLAMA_2_7B.items():
        size = sizes.mix_size(LLAMA_2_7B, mix)
        rows[mix] = {"article": (bits, gb), "computed": (size.bits_per_weight, size.gb)}
    ratio = sizes.mix_size(LLAMA_2_7B, "F16").n_bytes / sizes.mix_size(LLAMA_2_7B, "Q4_K_M").n_bytes
    lines = [
        f"{mix:<7} article {r['article'][0]:>4} bpw {r['article'][1]:>4} GB | "
        f"computed {r['computed'][0]:5.2f} bpw {r['computed'][1]:5.2f} GB"
        for mix, r in rows.items()
    ]
    return Finding({"rows": rows, "f16_over_q4_k_m": ratio}, "\n".join(lines) + f"\nF16 / Q4_K_M = {ratio:.2f}x")


def published_perplexity():
    """The article's F16 baseline and perplexity increases beside llama.cpp's published Llama 2 7B ones."""
    article_f16 = ARTICLE_LLAMA_2_7B["F16"][2]
    increases = {
        mix: (ARTICLE_LLAMA_2_7B[mix][2] - article_f16, delta) for mix, (delta, _) in LLAMA_2_7B_QUALITY.items()
    }
    values = {"article_f16": article_f16, "llama_cpp_f16": LLAMA_2_7B_F16_PPL, "increases": increases}
    lines = [f"{mix:<7} article +{a:.2f}   llama.cpp +{p:.3f}" for mix, (a, p) in increases.items()]
    text = f"F16 perplexity: article {article_f16}, llama.cpp {LLAMA_2_7B_F16_PPL:.4f}\n" + "\n".join(lines)
    return Finding(values, text)


def awq_equivalence(alpha=0.5, seed=0):
    """AWQ's identity: W diag(s) applied to x / s equals W x (before rounding), for s = mean|x|^alpha."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(0.0, 0.02, (64, 128))
    x = rng.normal(0.0, 1.0, (32, 128)) * rng.uniform(0.1, 10.0, 128)  # channels of very different size
    s = np.mean(np.abs(x), axis=0) ** alpha
    original, scaled = x @ weight.T, (x / s) @ (weight * s).T
    difference = float(np.max(np.abs(original - scaled)) / np.max(np.abs(original)))
    values = {"relative_difference": difference, "scales": (float(s.min()), float(s.max()))}
    text = f"s from {s.min():.2f} to {s.max():.2f}; largest |Wx - (W diag s)(x/s)| / max|Wx| = {difference:.1e}"
    return Finding(values, text)


def q4_k_m_fits(n_ctx=4096):
    """Q4_K_M weights of Llama 2 7B and 13B in GB and GiB, and the 13B's F16 KV cache for n_ctx tokens."""
    values = {}
    for name in ("Llama-2-7B", "Llama-2-13B"):
        arch = sizes.ARCHITECTURES[name]
        size = sizes.mix_size(arch, "Q4_K_M")
        cache = sizes.kv_cache_bytes(arch.n_layer, n_ctx, arch.n_head_kv, arch.head_dim)
        values[name] = {"GB": size.gb, "GiB": size.gib, "kv_GiB": cache / GIB}
    text = "\n".join(
        f"{name} Q4_K_M: {v['GB']:.2f} GB ({v['GiB']:.2f} GiB) of weights, + {v['kv_GiB']:.2f} GiB of F16 KV cache "
        f"for {n_ctx:,} tokens"
        for name, v in values.items()
    )
    return Finding(values, text)
