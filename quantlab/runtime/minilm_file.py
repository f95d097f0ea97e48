"""MiniLM as a complete GGUF model file llama.cpp loads (arch "bert"), quantized by quantlab.ggml.

    info = write_minilm("minilm-q4_0.gguf", types="Q4_0")          # the 36 encoder matrices in Q4_0
    info = write_minilm("minilm-q4_k_m.gguf", mix="Q4_K_M")        # llama.cpp's rules and fallbacks
    info = write_minilm("mine.gguf", types={"blk.0.ffn_down.weight": "Q4_K", "token_embd.weight": "Q8_0"})
    weights = read_minilm("minilm-q4_0.gguf")    # {Hugging Face name: float32}, as the file decodes

What goes in, as llama.cpp's converter writes a BERT (conversion/bert.py and base.py at
llama.cpp@0c1e57098, vendored in llama-cpp-python 0.3.36):
- hyperparameters: block count, context length (max_position_embeddings), embedding and
  feed-forward lengths, head count, layer-norm eps, causal attention False, pooling type MEAN
  (from the sentence-transformers Pooling module), token type count, file type;
- the WordPiece vocabulary with llama.cpp's "phantom space" convention: a word-start piece gets
  "▁" in front, a continuation piece loses its "##", control tokens ([CLS], [SEP], ...) stay as
  they are; token types CONTROL for the special added tokens, NORMAL otherwise; tokenizer model
  "bert" (llama.cpp's WPM tokenizer; the pre-tokenizer name is not used by it: "default");
- the special token ids (unknown, separator, padding, cls, mask) through gguf.SpecialVocab;
- tensors named by gguf's BERT name map; position_ids and the pooler are left out (mean pooling
  never uses the pooler). Unquantized tensors are F32.

Which tensors a choice quantizes: `types="Q4_0"` -> the 36 encoder matrices (query, key, value,
attention output, FFN up, FFN down), the matrices quantlab.minilm quantizes, embeddings stay F32;
`mix="Q4_K_M"` -> every tensor llama.cpp's rules quantize (token_embd too), with their row-length
fallbacks (quantlab.recipes); `types={name: type}` -> exactly the named tensors (GGUF names).
"""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


from ..mixes import recipes
from ..models.minilm import tokenizer
from ..models.packaged import load_minilm, minilm_config, minilm_dir, minilm_shapes
from ..models.weight_files import GGUFFile
from .writing import TensorToWrite, check_plan, check_writable, file_type, tensor_bytes, write_gguf

ENCODER_MATRICES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_down")
_DROPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


def gguf_names(weights=None):
    """{Hugging Face name: GGUF name} for every tensor a MiniLM file holds (gguf's BERT name map)."""
    import gguf

    weights = minilm_shapes() if weights is None else weights  # only the names are used
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, minilm_config()["num_hidden_layers"])
    names = {}
    for hf_name in weights:
        if hf_name in _DROPPED:
            continue
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"MiniLM tensor {hf_name!r} has no GGUF name in gguf's BERT map")
        names[hf_name] = gguf_name
    return names


def tensor_shapes(weights=None):
    """{GGUF name: numpy shape} of the tensors in a MiniLM file."""
    shapes = minilm_shapes() if weights is None else {name: array.shape for name, array in weights.items()}
    return {gguf_name: shapes[hf_name] for hf_name, gguf_name in gguf_names(shapes).items()}


def plan(types=None, mix=None, rules="2026", weights=None):
    """{GGUF name: type} for every tensor of the file: one type, a llama.cpp mix, or a per-tensor map.

    Exactly one of `types` (a type name, or {GGUF name: type}) and `mix` (a llama.cpp mix such as
    'Q4_K_M'). Tensors not chosen stay F32. A type that a tensor's rows cannot take is refused,
    naming the tensor; a mix falls back as llama.cpp does (e.g. Q4_K -> Q5_0 on rows of 384).
    """
    shapes = tensor_shapes(weights)
    if (types is None) == (mix is None):
        raise TypeError(
            "pass exactly one of types= (a GGML type such as 'Q4_0', or {tensor name: type}) "
            "and mix= (a llama.cpp mix such as 'Q4_K_M')"
        )
    chosen = {name: "F32" for name in shapes}
    if mix is not None:
        if not isinstance(mix, str) or mix.upper() not in recipes.BASE_TYPES:
            raise ValueError(f"mix={mix!r} is not a llama.cpp mix; choose one of {', '.join(recipes.MIXES)}")
        config = minilm_config()
        gguf_shapes = {name: tuple(reversed(shape)) for name, shape in shapes.items()}
        chosen.update(
            recipes.choose_types(
                gguf_shapes,
                mix.upper(),
                rules=rules,
                architecture="bert",
                n_head=config["num_attention_heads"],
                n_head_kv=config["num_attention_heads"],
            )
        )
        return chosen
    if isinstance(types, str):
        types = {name: types for name in shapes if name.split(".")[-2] in ENCODER_MATRICES and len(shapes[name]) == 2}
    elif not hasattr(types, "items"):
        raise TypeError(
            f"types must be a GGML type name such as 'Q4_0' or a map {{GGUF tensor name: type}}, "
            f"got {type(types).__name__}"
        )
    elif not types:
        raise ValueError("types is an empty map; name at least one tensor, e.g. {'blk.0.ffn_down.weight': 'Q4_K'}")
    chosen.update(check_plan(types, shapes))
    return chosen


def _vocabulary():
    """(tokens, token types) in llama.cpp's WPM convention, from the shipped tokenizer.json."""
    import gguf

    shipped = json.loads((minilm_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tokenizer().get_vocab(with_added_tokens=True)
    n_vocab = minilm_config()["vocab_size"]
    special = {entry["id"] for entry in shipped.get("added_tokens", []) if entry.get("special")}
    added = {entry["id"] for entry in shipped.get("added_tokens", [])}
    by_id = {token_id: token for token, token_id in vocab.items()}
    tokens, token_types = [], []
    for token_id in range(n_vocab):
        token = by_id.get(token_id)
        if token is None:
            tokens.append(f"[PAD{token_id}]"), token_types.append(gguf.TokenType.UNUSED)
        elif token_id in special:
            tokens.append(token), token_types.append(gguf.TokenType.CONTROL)
        else:  # phantom space: "##ing" continues a word -> "ing"; a word start "play" -> "▁play"
            tokens.append(token[2:] if token.startswith("##") else "\u2581" + token)
            token_types.append(gguf.TokenType.USER_DEFINED if token_id in added else gguf.TokenType.NORMAL)
    return tokens, token_types


def _add_metadata(writer, types, mix):
    import gguf

    config = minilm_config()
    folder = minilm_dir()
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
    writer.add_causal_attention(False)
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError(f"{folder}/1_Pooling/config.json does not ask for mean pooling; this writer writes MEAN")
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_token_type_count(config["type_vocab_size"])
    writer.add_file_type(file_type(types, mix))
    if any(t not in ("F32", "F16") for t in types.values()):
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    tokens, token_types = _vocabulary()
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    # the converter's SpecialVocab also asks for "cls", which gguf has no key for (llama.cpp's WPM
    # vocabulary takes [CLS] as its begin token by default): leave it out rather than log a warning
    special = gguf.SpecialVocab(
        folder, n_vocab=len(tokens), special_token_types=("bos", "eos", "unk", "sep", "pad", "mask")
    )
    special.add_to_gguf(writer, quiet=True)


@dataclass(frozen=True)
class WrittenFile:
    """A model file on disk and what is in it."""

    path: Path
    types: dict  # {GGUF name: type}
    n_bytes: int  # the file's size
    n_weights: int  # weights in all its tensors

    @property
    def bits_per_weight(self):
        """File bits over weights: everything counted (metadata, vocabulary, F32 tables)."""
        return 8 * self.n_bytes / self.n_weights

    @property
    def type_counts(self):
        """{type: number of tensors}, e.g. {'F32': 64, 'Q5_0': 28, 'Q4_K': 4, ...}."""
        return dict(Counter(self.types.values()))


def minilm_imatrix(sentences=None, weights=None):
    """{GGUF name: importance per column} of MiniLM's encoder matrices, as llama.cpp's imatrix tool collects it.

    The inputs of every linear layer over `sentences` (default: 40 lines of Twelfth Night, never the
    40 sentences the fidelity is scored on, so the score is not flattered), mean of x^2 per column.
    """
    from ..activations.capture import calibration_sentences, capture_minilm
    from ..calibration.imatrix import collect

    inputs, _ = capture_minilm(calibration_sentences() if sentences is None else sentences, weights)
    names = gguf_names(load_minilm() if weights is None else weights)
    return {names[name]: collect(x, min_batch_tokens=1) for name, x in inputs.items() if name in names}


def write_minilm(path, types=None, mix=None, rules="2026", weights=None, imatrix=None):
    """Write all-MiniLM-L6-v2 as a GGUF file llama.cpp loads; tensors quantized by quantlab.ggml.

    types: a GGML type for the 36 encoder matrices, or {GGUF name: type}; mix: a llama.cpp mix
    (see plan). weights: MiniLM's {Hugging Face name: array} (default: the installed model).
    imatrix: {GGUF name: importance per column} (e.g. minilm_imatrix()); the named tensors are
    quantized with llama.cpp's weighted search, as `llama-quantize --imatrix` does.
    """
    path = check_writable(path)
    weights = load_minilm() if weights is None else weights
    chosen = plan(types, mix, rules, weights)
    names = gguf_names(weights)
    imatrix = {} if imatrix is None else dict(imatrix)
    unknown = sorted(set(imatrix) - set(names.values()))
    if unknown:
        raise ValueError(
            f"imatrix names tensors MiniLM's file does not have: {unknown[:3]}; use GGUF names such as "
            f"'blk.0.ffn_down.weight'"
        )
    tensors = [
        TensorToWrite(
            gguf_name,
            weights[hf_name].shape,
            chosen[gguf_name],
            lambda w=weights[hf_name], t=chosen[gguf_name], v=imatrix.get(gguf_name): tensor_bytes(w, t, v),
        )
        for hf_name, gguf_name in names.items()
    ]
    n_bytes = write_gguf(path, "bert", lambda writer: _add_metadata(writer, chosen, mix and mix.upper()), tensors)
    return WrittenFile(path, chosen, n_bytes, sum(weights[name].size for name in names))


def read_minilm(path):
    """{Hugging Face name: float32 array} decoded from a MiniLM GGUF file: the weights llama.cpp computes with."""
    model = GGUFFile(path)
    if model.architecture != "bert":
        raise ValueError(f"{path} holds a {model.architecture!r} model, not MiniLM's 'bert'")
    to_hf = {gguf_name: hf_name for hf_name, gguf_name in gguf_names().items()}
    missing = sorted(set(to_hf) - set(model.tensors))
    if missing:
        raise ValueError(f"{path} lacks MiniLM tensor(s) {missing[:3]}; is it a MiniLM file?")
    weights = {
        to_hf[name]: model.rows(name).reshape(tensor.shape) for name, tensor in model.tensors.items() if name in to_hf
    }
    model.close()
    return weights
