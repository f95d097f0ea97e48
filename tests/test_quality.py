"""quantlab.quality: a llama.cpp mix applied to the CharLM and scored against F32; the committed table recomputed.

Oracles: llama.cpp's own quantizer (libgguf) and dequantizer (gguf-py) for the bytes and weights of
every tensor of a plan; recipes' block arithmetic (TensorChoice.n_bytes) for the sizes; a plain
evaluation of a model assembled from the oracles' weights for the scores; and a from-scratch
recomputation of cached rows, so the committed table cannot silently lie.
"""

import json
import shutil
import warnings

import numpy as np
import pytest

from quantlab.lm import quality
from quantlab.mixes import recipes
from quantlab.lm import CharLM
from quantlab.lm.evaluation import evaluate, heldout_text
from quantlab.lm.quality import TABLE_MIXES, TENSOR_CLASSES, QualityMeter, StaleTableError, TensorCache

SHORT_TEXT_SLICE = slice(20000, 21500)  # 1,500 characters of Macbeth: quick scores for the oracle checks
# One type per class, so a plan exercises seven formats at once (every CharLM row fits every type).
SPREAD = {
    "token_embd": "Q8_0",
    "attn_qk": "Q3_K",
    "attn_v": "Q5_K",
    "attn_output": "Q5_1",
    "ffn_up": "Q2_K",
    "ffn_down": "IQ4_NL",
    "output": "Q4_1",
}


@pytest.fixture(scope="module")
def model():
    return CharLM.load()


@pytest.fixture(scope="module")
def short_meter(model):
    return QualityMeter(model, heldout_text()[SHORT_TEXT_SLICE])


# --- the plan: llama.cpp's rules, then the overrides ------------------------------------------------------


def test_every_matrix_has_a_class_and_no_norm_has_one(model):
    shapes = model.tensor_shapes()
    classes = {name: quality.class_of(name) for name in shapes}
    assert all((classes[n] is None) == (len(s) == 1) for n, s in shapes.items())
    assert set(classes.values()) - {None} == set(TENSOR_CLASSES)
    assert classes["blk.1.attn_q.weight"] == classes["blk.1.attn_k.weight"] == "attn_qk"


@pytest.mark.parametrize("mix", TABLE_MIXES)
def test_plan_without_overrides_is_choose_types(model, mix):
    shapes = model.tensor_shapes()
    gguf_shapes = {name: shape[::-1] for name, shape in shapes.items()}
    assert quality.plan_types(shapes, mix) == recipes.choose_types(gguf_shapes, mix)


def test_an_override_moves_its_class_and_nothing_else(model):
    shapes = model.tensor_shapes()
    base = quality.plan_types(shapes, "Q4_K_M")
    moved = quality.plan_types(shapes, "Q4_K_M", {"attn_v": "Q8_0", "token_embd": "mix"})  # 'mix' keeps the rule
    changed = {name for name in base if base[name] != moved[name]}
    assert changed == {f"blk.{i}.attn_v.weight" for i in range(3) if base[f"blk.{i}.attn_v.weight"] != "Q8_0"}
    assert all(moved[f"blk.{i}.attn_v.weight"] == "Q8_0" for i in range(3))
    assert all(t == "F32" for n, t in quality.plan_types(shapes, "Q2_K", SPREAD).items() if len(shapes[n]) == 1)


def test_q4_k_m_on_three_layers_raises_only_the_last_layer(model):
    """use_more_bits(i, 3): i < 0, i >= 21 // 8 = 2, or (i - 0) % 3 == 2: layer 2 alone (recipes.more_bits)."""
    types = quality.plan_types(model.tensor_shapes(), "Q4_K_M")
    assert [types[f"blk.{i}.attn_v.weight"] for i in range(3)] == ["Q4_K", "Q4_K", "Q6_K"]
    assert [types[f"blk.{i}.ffn_down.weight"] for i in range(3)] == ["Q4_K", "Q4_K", "Q6_K"]
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"


# --- the bytes and weights are llama.cpp's ----------------------------------------------------------------


def test_every_tensor_of_a_plan_is_llama_cpps_bytes_and_weights(model):
    import gguf
    import libgguf
    import hashlib

    cache = TensorCache(model)
    for name, type_name in quality.plan_types(model.tensor_shapes(), "Q4_K_M", SPREAD).items():
        w = model.weights[name]
        copy = cache.get(name, type_name)
        if type_name == "F32":
            assert np.array_equal(copy.weights, w)
            assert copy.n_bytes == 4 * w.size
            continue
        qtype = gguf.GGMLQuantizationType[type_name]
        expected = np.asarray(libgguf.quantize_rows(w, qtype)).view(np.uint8)
        assert copy.sha256 == hashlib.sha256(expected.tobytes()).hexdigest(), name
        assert copy.n_bytes == expected.nbytes, name
        decoded = gguf.quants.dequantize(expected.reshape(w.shape[0], -1), qtype).reshape(w.shape)
        assert np.array_equal(copy.weights.view(np.uint32), decoded.astype(np.float32).view(np.uint32)), name


@pytest.mark.parametrize("mix", TABLE_MIXES)
def test_bytes_produced_are_the_block_arithmetic(model, mix):
    """The bytes quantize() produced equal recipes' n_weights / block_size * bytes_per_block, tensor by tensor."""
    gguf_shapes = {name: shape[::-1] for name, shape in model.tensor_shapes().items()}
    predicted = sum(choice.n_bytes for choice in recipes.explain_types(gguf_shapes, mix))
    _, n_bytes, _ = TensorCache(model).apply(quality.plan_types(model.tensor_shapes(), mix))
    assert n_bytes == predicted


@pytest.mark.parametrize(
    "mix, overrides", [("Q4_K_M", {}), ("Q2_K", SPREAD), ("F32", {"attn_v": "F16", "output": "Q5_1"})]
)
def test_planned_bytes_are_the_bytes_quantize_produces(model, mix, overrides):
    """The explorer's preview sizes a plan without quantizing: the same total as the bytes quantize() wrote."""
    types = quality.plan_types(model.tensor_shapes(), mix, overrides)
    _, n_bytes, _ = TensorCache(model).apply(types)
    assert quality.planned_bytes(model.tensor_shapes(), types) == n_bytes


def test_scores_equal_a_model_built_from_llama_cpps_weights(model, short_meter):
    """measure() against evaluate() of a model whose weights came from libgguf + gguf-py, on the same text."""
    import gguf
    import libgguf

    types = quality.plan_types(model.tensor_shapes(), "Q4_K_M", {"token_embd": "Q5_0"})
    weights = {}
    for name, type_name in types.items():
        if type_name != "F32":
            qtype = gguf.GGMLQuantizationType[type_name]
            data = np.asarray(libgguf.quantize_rows(model.weights[name], qtype)).view(np.uint8)
            weights[name] = gguf.quants.dequantize(data.reshape(model.weights[name].shape[0], -1), qtype)
    text = heldout_text()[SHORT_TEXT_SLICE]
    expected = evaluate(model.with_weights(weights), text, reference_logits=evaluate(model, text).logits)
    got = short_meter.measure("Q4_K_M", {"token_embd": "Q5_0"})
    assert (got.perplexity, got.kl_divergence, got.mean_nll) == (
        expected.perplexity,
        expected.kl_divergence,
        expected.mean_nll,
    )
    assert got.n_weights == sum(w.size for w in model.weights.values())


def test_f32_is_the_reference_itself(short_meter):
    row = short_meter.measure("F32")
    assert row.kl_divergence == 0.0 and row.perplexity == row.reference_perplexity
    assert row.bits_per_weight == 32.0


def test_each_tensor_is_quantized_once(short_meter):
    short_meter.measure("Q5_K_S")
    before = short_meter.tensors.n_quantized
    again = short_meter.measure("Q5_K_S")
    assert short_meter.tensors.n_quantized == before
    short_meter.measure("Q5_K_S", {"output": "Q2_K"})
    assert short_meter.tensors.n_quantized == before + 1  # one tensor in that class, one new pair
    assert again == short_meter.measure("Q5_K_S")


def test_more_bits_on_the_embedding_cost_little_and_lower_the_kl(short_meter):
    """A class override changes the bytes by exactly that class's difference in block arithmetic."""
    base, raised = short_meter.measure("Q4_K_M"), short_meter.measure("Q4_K_M", {"token_embd": "Q8_0"})
    n = 65 * 256
    assert raised.n_bytes - base.n_bytes == n // 32 * 34 - n // 256 * 144
    assert raised.kl_divergence < base.kl_divergence


def test_per_position_scores_average_to_the_measured_ones(short_meter):
    """The per-character NLL changes average to log(PPL ratio), the per-character KLs to the reported KL."""
    delta_nll, kl = quality.per_position(short_meter, "Q8_0")
    row = short_meter.measure("Q8_0")
    assert len(kl) == len(delta_nll) == row.n_predictions
    assert np.mean(delta_nll) == pytest.approx(np.log(row.perplexity / row.reference_perplexity), rel=1e-9, abs=1e-15)
    assert np.mean(kl) == pytest.approx(row.kl_divergence, rel=1e-12)
    assert np.all(kl >= 0) and np.any(delta_nll < 0) and np.any(delta_nll > 0)  # Q8_0 helps at some characters


def test_class_sensitivity_quantizes_one_class_at_a_time(short_meter):
    rows = quality.class_sensitivity(short_meter, "Q4_0")
    assert list(rows) == list(TENSOR_CLASSES)
    for tensor_class, row in rows.items():
        quantized = {quality.class_of(n) for n, t in row.types.items() if t != "F32"}
        assert quantized == {tensor_class} and row.kl_divergence > 0


def test_apply_mix_is_the_measured_model(model, short_meter):
    quantized = quality.apply_mix(model, "Q3_K_M", {"output": "Q8_0"})
    types = quality.plan_types(model.tensor_shapes(), "Q3_K_M", {"output": "Q8_0"})
    for name, type_name in types.items():
        assert np.array_equal(quantized.weights[name], short_meter.tensors.get(name, type_name).weights)


# --- the committed table ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(model):
    return quality.load_table(model=model)


def _compare(got, cached, table):
    """The same result (quality.row_differences): scores bit for bit on the machine that wrote the table."""
    exact = quality.same_environment(table.versions)
    if not exact:
        warnings.warn(
            f"the table was written with another numpy/BLAS/CPU: scores compared to "
            f"{quality.SCORE_TOLERANCE:.0e} nats, bytes exactly"
        )
    assert quality.row_differences(got, cached, exact) == []


def test_cached_full_text_rows_recompute_exactly(model, table):
    """Two rows of the committed table measured again from nothing: the F32 reference, quantizing, evaluating."""
    meter = QualityMeter(model)  # whole held-out text
    for mix in ("Q4_K_M", "Q2_K"):
        _compare(meter.measure(mix), table.row(mix), table)


def test_cached_explorer_rows_recompute_exactly(model, table):
    meter = QualityMeter(model, quality.explorer_text())
    for mix in TABLE_MIXES:
        _compare(meter.measure(mix), table.row(mix, text="slice"), table)


def test_table_covers_the_mixes_on_the_whole_text(table):
    assert [r.label for r in table.full_text] == list(TABLE_MIXES) == [r.label for r in table.explorer_slice]
    assert table.full_text[0].n_predictions == len(heldout_text()) - 1
    assert table.explorer_slice[0].n_predictions == quality.EXPLORER_SLICE[1] - quality.EXPLORER_SLICE[0] - 1


def test_table_orders_itself(table):
    """Fewer bits down the table; within the K family the KL grows as bits drop; F32 is the reference."""
    bits = [r.bits_per_weight for r in table.full_text]
    assert bits == sorted(bits, reverse=True) and len(set(bits)) == len(bits)
    k_family = [table.row(m).kl_divergence for m in ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")]
    assert k_family == sorted(k_family)
    assert table.row("F32").kl_divergence == 0.0 and table.row("F32").delta_perplexity == 0.0


def test_stale_tables_are_refused(tmp_path, model):
    path = tmp_path / "quality_table.json"
    shutil.copy(quality.TABLE_PATH, path)
    record = json.loads(path.read_text())
    record["settings"]["weights_sha256"] = "0" * 64
    path.write_text(json.dumps(record))
    with pytest.raises(StaleTableError, match="weights_sha256.*benchmarks/quality_table.py --write"):
        quality.load_table(path, model)
    record = json.loads(quality.TABLE_PATH.read_text())
    record["full_text"][5]["types"]["blk.0.attn_v.weight"] = "Q8_0"
    path.write_text(json.dumps(record))
    with pytest.raises(StaleTableError, match="Q4_K_M"):
        quality.load_table(path, model)


def test_format_table_has_one_line_per_row(table):
    text = quality.format_table(table.full_text)
    assert len(text.splitlines()) == len(TABLE_MIXES) + 1
    assert f"{table.row('Q4_K_M').bits_per_weight:.3f}" in text


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mix, overrides, error, match",
    [
        ("Q4_K_XL", None, ValueError, "mix='Q4_K_XL'.*choose one of"),
        ("Q4_K_M", {"attn": "Q8_0"}, ValueError, "'attn', not a tensor class.*attn_qk"),
        ("Q4_K_M", {"attn_v": "Q7_K"}, ValueError, r"overrides\['attn_v'\]='Q7_K'.*Q8_0"),
        ("Q4_K_M", "Q8_0", TypeError, "overrides must be a dict"),
        (4, None, ValueError, "mix=4"),
    ],
)
def test_bad_settings_are_named(short_meter, mix, overrides, error, match):
    with pytest.raises(error, match=match):
        short_meter.measure(mix, overrides)


# --- what "the same result" means across machines ---------------------------------------------------------


def _moved(row, **changes):
    return quality.Quality(**(row.record() | changes))


def test_a_row_is_the_same_result_as_itself_in_both_modes(table):
    row = table.row("Q4_K_M")
    assert quality.row_differences(row, row, exact=True) == quality.row_differences(row, row, exact=False) == []


def test_float32_order_noise_passes_across_machines_but_not_on_the_same_one(table):
    """5e-7 relative on perplexity and 5e-7 nats on the KL: inside SCORE_TOLERANCE (1e-6 nats), not exact."""
    row = table.row("Q4_K_M")
    noisy = _moved(
        row,
        perplexity=row.perplexity * (1 + 5e-7),
        kl_divergence=row.kl_divergence + 5e-7,
        mean_nll=row.mean_nll - 5e-7,
    )
    assert quality.row_differences(noisy, row, exact=False) == []
    assert [d.split(":")[0] for d in quality.row_differences(noisy, row, exact=True)] == [
        "perplexity",
        "mean_nll",
        "kl_divergence",
    ]


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"kl_divergence": 3e-6}, "kl_divergence"),  # added to the cached value below
        ({"perplexity": 1e-5}, "perplexity"),
        ({"sha256": "0" * 64}, "sha256"),
        ({"n_bytes": 1}, "n_bytes"),
    ],
)
def test_a_real_difference_is_refused_on_any_machine(table, changes, key):
    row = table.row("Q4_K_M")
    moved = _moved(
        row,
        **{
            k: (v if isinstance(v, str) else getattr(row, k) * (1 + v) if k == "perplexity" else getattr(row, k) + v)
            for k, v in changes.items()
        },
    )
    for exact in (True, False):
        assert [d.split(":")[0] for d in quality.row_differences(moved, row, exact)] == [key]


def test_one_tensor_class_changed_moves_the_kl_far_beyond_the_tolerance(short_meter):
    """The tolerance cannot hide a stale row: the smallest step (output Q6_K -> Q8_0) moves the KL 100x more."""
    base, step = short_meter.measure("Q4_K_M"), short_meter.measure("Q4_K_M", {"output": "Q8_0"})
    assert abs(step.kl_divergence - base.kl_divergence) > 100 * quality.SCORE_TOLERANCE


def test_the_environment_names_numpy_blas_and_cpu():
    found = quality.environment()
    assert found["numpy"] == np.__version__ and found["blas"] and "?" not in found["blas"].split()[0]
    assert quality.same_environment(found) and not quality.same_environment(found | {"numpy": "0.0"})


def test_a_table_written_on_another_machine_is_not_called_stale(tmp_path, model):
    """load_table checks weights, text, settings and rules (all exact), never numpy, BLAS or the CPU."""
    path = tmp_path / "quality_table.json"
    record = json.loads(quality.TABLE_PATH.read_text())
    record["versions"] |= {"numpy": "1.24.0", "blas": "openblas64_", "cpu": "another CPU", "machine": "arm64"}
    path.write_text(json.dumps(record))
    table = quality.load_table(path, model)
    assert table.row("Q4_K_M") == quality.load_table(model=model).row("Q4_K_M")
    assert not quality.same_environment(table.versions)


# --- a setting seen before costs nothing -------------------------------------------------------------------


def _count_evaluations(monkeypatch):
    calls = []
    real = quality.evaluate
    monkeypatch.setattr(quality, "evaluate", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    return calls


def test_a_setting_seen_before_is_not_evaluated_again(short_meter, monkeypatch):
    calls = _count_evaluations(monkeypatch)
    first = short_meter.measure("Q3_K_M", {"attn_v": "Q5_1"})
    assert short_meter.measure("Q3_K_M", {"attn_v": "Q5_1"}) == first and len(calls) == 1
    # Every class overridden: two presets give the same tensor types, so the same model, evaluated once.
    every = {c: "Q5_1" for c in TENSOR_CLASSES}
    one, other = short_meter.measure("Q4_0", every), short_meter.measure("Q2_K", every)
    assert one.types == other.types and len(calls) == 2
    assert (one.perplexity, one.kl_divergence, one.sha256) == (other.perplexity, other.kl_divergence, other.sha256)
    assert one.label != other.label
