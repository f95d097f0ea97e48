"""quantlab.runtime.rewrite on the packaged Gemma 3 270M Q4_K_M file, checked by gguf and libgguf.

Short on purpose (a few seconds each): completions in llama.cpp are in benchmarks/runtime.py.
"""

import gguf
import libgguf
import numpy as np
import pytest
import xllamacpp  # noqa: F401  (the runtime extra: fail, not skip, without it)
from gguf import GGMLQuantizationType

from quantlab import ggml
from quantlab.models import open_gemma
from quantlab.models.weight_files import GGUFFile
from quantlab.runtime.generation import complete_prompts
from quantlab.runtime.rewrite import plan, rewrite_gguf


@pytest.fixture(scope="module")
def gemma():
    return open_gemma()


def test_rewriting_into_its_own_mix_gives_the_same_file(gemma, tmp_path):
    """llama.cpp's Q4_K_M rules (quantlab.recipes) pick every stored type, and the metadata copies exactly."""
    info = rewrite_gguf(gemma, tmp_path / "same.gguf", mix="Q4_K_M")
    assert info.n_requantized == 0
    assert info.path.read_bytes() == gemma.path.read_bytes()


def test_one_tensor_requantized_from_its_decoded_rows(gemma, tmp_path):
    """The changed tensor holds libgguf's quantization of gguf's decoding; every other byte is the source's.

    (The container itself is checked by the test above: byte-identical to a file llama.cpp wrote.)
    """
    name, stored = "blk.3.ffn_down.weight", gemma.tensors["blk.3.ffn_down.weight"]
    info = rewrite_gguf(gemma, tmp_path / "one.gguf", types={name: "Q4_0"}, chunk_rows=100)
    assert (info.n_copied, info.n_requantized) == (len(gemma.tensors) - 1, 1)
    decoded = gguf.quants.dequantize(np.asarray(gemma.raw_rows(name)), GGMLQuantizationType[stored.type_name])
    expected = libgguf.quantize_rows(decoded.reshape(-1, stored.row_length), GGMLQuantizationType.Q4_0)
    with GGUFFile(info.path) as rewritten:
        assert rewritten.tensors[name].type_name == "Q4_0"
        assert np.array_equal(rewritten.raw_rows(name).reshape(-1), expected.reshape(-1))
        for other in ("token_embd.weight", "blk.3.attn_q.weight", "blk.17.ffn_down.weight"):
            assert np.array_equal(rewritten.raw_rows(other), gemma.raw_rows(other))
        assert rewritten.metadata["general.file_type"] & gguf.LlamaFileType.GUESSED  # a hand-made mix
        assert rewritten.metadata["tokenizer.ggml.tokens"] == gemma.metadata["tokenizer.ggml.tokens"]


def test_a_q8_0_rewrite_runs_in_llama_cpp(gemma, tmp_path):
    """Re-quantized tensors (117 of them) and the copied tokenizer load and complete in the real engine."""
    info = rewrite_gguf(gemma, tmp_path / "q8_0.gguf", mix="Q8_0")
    assert info.n_requantized > 100
    texts = complete_prompts(info.path, ["The quick brown fox jumps over the lazy"], n_predict=3)
    assert texts["The quick brown fox jumps over the lazy"].startswith(" dog")


def test_bad_rewrites_are_refused(gemma, tmp_path):
    with pytest.raises(ValueError, match=r"blk\.0\.attn_q\.weight has rows of 640 .*Q4_K blocks of 256"):
        plan(gemma, types={"blk.0.attn_q.weight": "Q4_K"})
    with pytest.raises(ValueError, match="does not have"):
        plan(gemma, types={"blk.99.attn_q.weight": "Q8_0"})
    with pytest.raises(ValueError, match="source file itself"):
        rewrite_gguf(gemma, gemma.path, mix="Q8_0")
    with pytest.raises(ValueError, match="chunk_rows"):
        rewrite_gguf(gemma, tmp_path / "x.gguf", mix="Q8_0", chunk_rows=0)
    assert ggml.format_info("Q4_K").block_size == 256
