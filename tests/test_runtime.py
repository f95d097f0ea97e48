"""quantlab.runtime: MiniLM files written by quantlab, checked by gguf and libgguf, run by llama.cpp (xllamacpp).

Oracles, imported plainly so that a missing one fails the module instead of skipping it:
gguf (llama.cpp's GGUF reader), libgguf (llama.cpp's C quantizers), xllamacpp (llama.cpp itself).
"""

import gguf
import libgguf
import numpy as np
import pytest
import xllamacpp  # noqa: F401  (the runtime extra: these tests must fail, not skip, without it)
from gguf import GGMLQuantizationType

from quantlab.models import load_minilm, minilm
from quantlab.models.weight_files import CorruptFileError
from quantlab.runtime import fidelity, ggml_cpu, minilm_file
from quantlab.runtime.engine import Engine, check_model_file
from quantlab.runtime.generation import Departure, departure

SENTENCES = list(minilm.SENTENCES)


@pytest.fixture(scope="module")
def weights():
    return load_minilm()


@pytest.fixture(scope="module")
def fp32(weights):
    return minilm.embed(SENTENCES, weights)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("runtime")


@pytest.fixture(scope="module")
def q4_k_m(folder, weights):
    return minilm_file.write_minilm(folder / "q4_k_m.gguf", mix="Q4_K_M", weights=weights)


def _fields(path):
    reader = gguf.GGUFReader(path)
    return reader, {name: field.contents() for name, field in reader.fields.items()}


# --- the file, read by llama.cpp's own Python reader ---------------------------------------------


def test_tensor_bytes_are_llama_cpps_quantizer_bytes(q4_k_m, weights):
    """Every tensor in the file, read by gguf.GGUFReader, equals libgguf's quantization of MiniLM's weight."""
    reader, _ = _fields(q4_k_m.path)
    to_hf = {g: h for h, g in minilm_file.gguf_names(weights).items()}
    assert {t.name for t in reader.tensors} == set(to_hf)
    kinds = set()
    for tensor in reader.tensors:
        type_name = tensor.tensor_type.name
        kinds.add(type_name)
        source = weights[to_hf[tensor.name]]
        if type_name == "F32":
            expected = source.astype("<f4").view(np.uint8).reshape(-1)
        else:
            expected = libgguf.quantize_rows(source.reshape(-1, source.shape[-1]), GGMLQuantizationType[type_name])
        assert np.array_equal(np.asarray(tensor.data).view(np.uint8).reshape(-1), expected.reshape(-1)), tensor.name
    assert {"Q4_K", "Q6_K", "Q5_0", "Q8_0", "F32"} <= kinds  # llama.cpp's Q4_K_M with its fallbacks


def test_shapes_from_the_header_are_the_weights_shapes(weights):
    """tensor_shapes() reads only the safetensors header; the shapes are those of the loaded arrays."""
    assert minilm_file.tensor_shapes() == minilm_file.tensor_shapes(weights)
    assert minilm_file.tensor_shapes()["token_embd.weight"] == (30522, 384)


def test_per_tensor_map_round_trips(folder, weights):
    chosen = {"blk.0.ffn_down.weight": "Q3_K", "blk.1.attn_v.weight": "IQ4_NL", "token_embd.weight": "F16"}
    info = minilm_file.write_minilm(folder / "map.gguf", types=chosen, weights=weights)
    reader, _ = _fields(info.path)
    stored = {t.name: t.tensor_type.name for t in reader.tensors}
    assert {name: stored[name] for name in chosen} == chosen
    assert sum(t != "F32" for t in stored.values()) == 3
    embd = next(t for t in reader.tensors if t.name == "token_embd.weight")
    assert np.array_equal(
        np.asarray(embd.data).reshape(-1), weights["embeddings.word_embeddings.weight"].astype(np.float16).reshape(-1)
    )


def test_an_imatrix_file_holds_llama_cpps_weighted_bytes(folder, weights):
    """write_minilm(imatrix=...) quantizes as `llama-quantize --imatrix`: bytes equal libgguf's weighted path."""
    importance = minilm_file.minilm_imatrix(weights=weights)
    assert len(importance) == 36 and all(
        v.shape == (weights[h].shape[1],)
        for h, v in zip([h for h, g in minilm_file.gguf_names(weights).items() if g in importance], importance.values())
    )
    chosen = {"blk.0.ffn_down.weight": "IQ2_XXS", "blk.1.attn_v.weight": "Q4_0"}
    info = minilm_file.write_minilm(folder / "imatrix.gguf", types=chosen, weights=weights, imatrix=importance)
    source = {g: weights[h] for h, g in minilm_file.gguf_names(weights).items()}
    for tensor in gguf.GGUFReader(info.path).tensors:
        if tensor.name in chosen:
            expected = libgguf.quantize_rows(
                source[tensor.name].astype(np.float32),
                GGMLQuantizationType[chosen[tensor.name]],
                imatrix=importance[tensor.name],
            ).view(np.uint8)
            assert np.array_equal(np.asarray(tensor.data).reshape(-1), expected.reshape(-1)), tensor.name
    with pytest.raises(ValueError, match="needs an importance matrix"):
        minilm_file.write_minilm(folder / "no_imatrix.gguf", types=chosen, weights=weights)
    with pytest.raises(ValueError, match="GGUF names"):
        minilm_file.write_minilm(folder / "bad.gguf", types="Q4_0", weights=weights, imatrix={"encoder.x": importance})


def test_metadata_follows_llama_cpps_bert_converter(q4_k_m):
    _, fields = _fields(q4_k_m.path)
    assert fields["general.architecture"] == "bert"
    assert fields["bert.block_count"] == 6 and fields["bert.embedding_length"] == 384
    assert fields["bert.feed_forward_length"] == 1536 and fields["bert.attention.head_count"] == 12
    assert fields["bert.context_length"] == 512 and fields["bert.attention.causal"] is False
    assert fields["bert.pooling_type"] == gguf.PoolingType.MEAN
    assert fields["general.file_type"] == gguf.LlamaFileType.MOSTLY_Q4_K_M
    tokens, types = fields["tokenizer.ggml.tokens"], fields["tokenizer.ggml.token_type"]
    vocab = minilm.tokenizer().get_vocab()
    assert len(tokens) == 30522 == len(types)
    assert tokens[vocab["[CLS]"]] == "[CLS]" and types[vocab["[CLS]"]] == gguf.TokenType.CONTROL
    assert tokens[vocab["weather"]] == "\u2581weather" and types[vocab["weather"]] == gguf.TokenType.NORMAL
    assert tokens[vocab["##ing"]] == "ing"
    assert fields["tokenizer.ggml.model"] == "bert"
    assert fields["tokenizer.ggml.seperator_token_id"] == vocab["[SEP]"]
    assert fields["tokenizer.ggml.padding_token_id"] == vocab["[PAD]"]
    assert fields["tokenizer.ggml.unknown_token_id"] == vocab["[UNK]"]


def test_plan_one_type_quantizes_the_36_encoder_matrices(weights):
    chosen = minilm_file.plan(types="Q8_0", weights=weights)
    quantized = [name for name, t in chosen.items() if t == "Q8_0"]
    assert len(quantized) == 36 and "token_embd.weight" not in quantized
    assert all(t == "F32" for name, t in chosen.items() if name not in quantized)


# --- bad input -------------------------------------------------------------------------------------


def test_a_type_the_rows_cannot_take_names_the_tensor(folder, weights):
    with pytest.raises(ValueError, match=r"blk\.0\.attn_output\.weight has rows of 384 .*Q4_K blocks of 256"):
        minilm_file.write_minilm(folder / "bad.gguf", types="Q4_K", weights=weights)
    assert not (folder / "bad.gguf").exists()


def test_unknown_tensor_name_and_unknown_type(folder, weights):
    with pytest.raises(ValueError, match="blk.0.attn_z.weight"):
        minilm_file.write_minilm(folder / "bad.gguf", types={"blk.0.attn_z.weight": "Q8_0"}, weights=weights)
    with pytest.raises(ValueError, match="unknown GGML type"):
        minilm_file.write_minilm(folder / "bad.gguf", types="Q7_0", weights=weights)
    with pytest.raises(ValueError, match="1-D"):
        minilm_file.write_minilm(folder / "bad.gguf", types={"blk.0.attn_q.bias": "F16"}, weights=weights)
    with pytest.raises(ValueError, match="not a llama.cpp mix"):
        minilm_file.write_minilm(folder / "bad.gguf", mix="Q4_K_X", weights=weights)
    with pytest.raises(TypeError, match="exactly one"):
        minilm_file.write_minilm(folder / "bad.gguf", types="Q8_0", mix="Q8_0", weights=weights)


def test_unwritable_paths(folder, weights):
    with pytest.raises(ValueError, match="does not exist"):
        minilm_file.write_minilm(folder / "no" / "such" / "m.gguf", types="Q8_0", weights=weights)
    with pytest.raises(ValueError, match="is a directory"):
        minilm_file.write_minilm(folder, types="Q8_0", weights=weights)
    with pytest.raises(TypeError, match="file path"):
        minilm_file.write_minilm(42, types="Q8_0", weights=weights)
    with pytest.raises(ValueError, match="cannot be written"):  # /proc takes no new files, even from root
        minilm_file.write_minilm("/proc/quantlab-test.gguf", types="Q8_0", weights=weights)


def test_corrupt_files_are_refused_before_llama_cpp_sees_them(folder, q4_k_m):
    data = q4_k_m.path.read_bytes()
    truncated = folder / "truncated.gguf"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="truncated"):
        Engine(truncated, embedding=True)
    garbage = folder / "garbage.gguf"
    garbage.write_bytes(b"GGML" + data[4:4096])
    with pytest.raises(CorruptFileError, match="not a GGUF file"):
        check_model_file(garbage)
    with pytest.raises(FileNotFoundError):
        Engine(folder / "missing.gguf", embedding=True)


def test_a_well_formed_file_llama_cpp_cannot_load_is_a_value_error(folder):
    path = folder / "no-tensors.gguf"
    writer = gguf.GGUFWriter(path, "bert")
    writer.add_block_count(6)
    writer.add_token_list(["[PAD]", "\u2581a"])
    writer.write_header_to_file(), writer.write_kv_data_to_file(), writer.write_ti_data_to_file()
    writer.close()
    with pytest.raises(ValueError, match="could not load"):
        Engine(path, embedding=True)


# --- llama.cpp runs the files ----------------------------------------------------------------------


def test_llama_cpp_embeds_the_f32_file_as_numpy_does(folder, weights, fp32):
    info = minilm_file.write_minilm(folder / "f32.gguf", types="F32", weights=weights)
    with Engine(info.path, embedding=True, flash_attention=False) as engine:
        vectors = engine.embed(SENTENCES)
    assert vectors.shape == (40, 384)
    assert minilm.cosine(vectors, fp32).min() > 0.99999


def test_quantized_file_numpy_vs_llama_cpp_and_fp32(q4_k_m, fp32):
    result = fidelity.compare_minilm(q4_k_m.path, SENTENCES, fp32=fp32)
    assert result.cosine_numpy_llama.min() > 0.995  # the same weights in two engines
    assert result.cosine_llama_fp32.mean() < 0.999  # the quantization shows, in both
    assert abs(result.cosine_llama_fp32.mean() - result.cosine_numpy_fp32.mean()) < 2e-3
    # ggml-cpu's activation rounding explains a good part of the residual, not all of it (fidelity.py)
    assert (1 - result.cosine_emulated_llama).mean() < 0.7 * (1 - result.cosine_numpy_llama).mean()


def test_activation_rounding_explains_one_quantized_matrix(folder, weights):
    """One Q8_0 matrix: numpy with ggml-cpu's roundings matches llama.cpp ~10x closer than plain numpy."""
    info = minilm_file.write_minilm(folder / "one.gguf", types={"blk.5.ffn_up.weight": "Q8_0"}, weights=weights)
    with Engine(info.path, embedding=True, flash_attention=False) as engine:
        llama = engine.embed(SENTENCES)
    decoded = minilm_file.read_minilm(info.path)
    types = fidelity.file_types_by_hf_name(info.path)
    plain = 1 - minilm.cosine(minilm.embed(SENTENCES, decoded), llama)
    emulated = 1 - minilm.cosine(ggml_cpu.embed(SENTENCES, decoded, types), llama)
    assert emulated.mean() < plain.mean() / 10


def test_activation_rounding_turns_a_one_ulp_change_into_the_residual(q4_k_m):
    """Why emulation cannot reach 1.0 on a whole encoder: rounding steps amplify last-bit differences."""
    sensitivity = fidelity.ulp_sensitivity(q4_k_m.path, SENTENCES[:12])
    assert sensitivity["plain"].max() < 1e-6
    assert sensitivity["ggml"].mean() > 100 * sensitivity["plain"].mean()


# --- the numpy model of ggml-cpu ---------------------------------------------------------------------


def test_emulation_without_roundings_is_quantlabs_minilm(weights, fp32):
    vectors = ggml_cpu.embed(SENTENCES, weights, {}, activations=False, ggml_gelu=False)
    assert minilm.cosine(vectors, fp32).min() > 1 - 1e-9


def _round_q8_k_reference(x):
    """quantize_row_q8_K_ref, element by element, as ggml-quants.c writes it."""
    out = np.empty_like(x)
    for b in range(0, x.size, 256):
        block = x.flat[b : b + 256]
        peak = max(block, key=abs)
        if peak == 0:
            out.flat[b : b + 256] = 0
            continue
        iscale = np.float32(-127) / np.float32(peak)
        scale = np.float32(1) / iscale
        for j, value in enumerate(block):
            out.flat[b + j] = np.float32(min(127, int(np.rint(iscale * value)))) * scale
    return out


def test_q8_k_rounding_matches_the_reference_loop():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 512)) * rng.lognormal(0, 2, (3, 1))).astype(np.float32)
    x[2, :256] = 0  # an all-zero block stays zero
    assert np.array_equal(ggml_cpu.round_q8_k(x), _round_q8_k_reference(x))


def test_round_activations_refuses_unknown_types():
    with pytest.raises(ValueError, match="vec_dot_type"):
        ggml_cpu.round_activations(np.zeros((1, 32), np.float32), "Q4_0")


def test_departure():
    assert departure("a b c", "a b c") is None
    assert departure(" dog. The dog", " dog. A cat") == Departure(shared_words=1, shared_chars=6)
    assert departure("a b", "a b c") == Departure(shared_words=2, shared_chars=3)
    with pytest.raises(TypeError):
        departure("a", None)
