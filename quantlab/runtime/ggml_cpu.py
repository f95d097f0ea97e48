"""How llama.cpp's CPU backend computes MiniLM, in numpy: the roundings it adds beyond the weights.

Two things llama.cpp (ggml-cpu) does that quantlab.minilm does not:
1. Before a matrix product with a quantized weight, it quantizes the *activations* too, to the
   weight type's `vec_dot_type`, and takes the dot product of the two codes (integer sums per
   block, then scales). ggml/src/ggml-cpu/ggml-cpu.c, table type_traits_cpu and
   ggml_compute_forward_mul_mat ("src1 is ... packed from F32 into vec_dot_type"), read at
   llama.cpp@0c1e57098 (llama-cpp-python 0.3.36):
       Q4_0, Q5_0, Q8_0, IQ4_NL -> Q8_0      Q4_1, Q5_1 -> Q8_1 (Q8_0's values plus a block sum)
       Q2_K ... Q6_K -> Q8_K (256 weights, float32 scale)     F16 -> F16     F32 -> F32 (no rounding)
2. Its GELU is the tanh approximation read from a float16 table (vec.h, GGML_GELU_FP16):
   the input is rounded to float16, and the table holds float16(gelu_tanh(x)).
(The rest is quantlab.models.minilm's encoder, restated with those two steps as parameters.)

    vectors = embed(SENTENCES, weights, types)   # weights decoded from the file, types {HF name: type}

`activations=False, ggml_gelu=False` gives quantlab.minilm's computation (tested equal to it).
"""

import numpy as np

from .. import ggml
from ..models.minilm import config, gelu as gelu_erf, tokenize
from ..nn import softmax

# weight type -> the type ggml-cpu rounds the activations to before the dot product
VEC_DOT_TYPES = {
    "F32": "F32",
    "F16": "F16",
    "Q4_0": "Q8_0",
    "Q5_0": "Q8_0",
    "Q8_0": "Q8_0",
    "IQ4_NL": "Q8_0",
    "Q4_1": "Q8_1",
    "Q5_1": "Q8_1",
    "Q2_K": "Q8_K",
    "Q3_K": "Q8_K",
    "Q4_K": "Q8_K",
    "Q5_K": "Q8_K",
    "Q6_K": "Q8_K",
}


def round_q8_k(x):
    """Q8_K rounding of float32 rows (whole 256-blocks): codes of -127..127 times a float32 scale.

    quantize_row_q8_K_ref (ggml-quants.c): per block, take the value of largest magnitude, `max`;
    iscale = -127 / max; code = min(127, nearest(iscale * x)); scale d = 1 / iscale. An all-zero
    block stays zero.
    """
    blocks = np.asarray(x, np.float32).reshape(-1, 256)
    peak = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=1)[:, None], axis=1)  # signed
    safe = np.where(peak == 0, np.float32(1), peak)
    iscale = np.where(peak == 0, np.float32(0), np.float32(-127) / safe)
    codes = np.minimum(127, np.rint(iscale * blocks))  # nearest_int rounds half to even
    scale = np.where(iscale == 0, np.float32(0), np.float32(1) / np.where(iscale == 0, np.float32(1), iscale))
    return (codes * scale).astype(np.float32).reshape(np.shape(x))


def round_activations(x, vec_dot_type):
    """Activations rows as ggml-cpu hands them to the dot product for a weight of this vec_dot_type."""
    if vec_dot_type == "F32":
        return x
    if vec_dot_type == "F16":
        return x.astype(np.float16).astype(np.float32)
    if vec_dot_type in ("Q8_0", "Q8_1"):  # Q8_1 rounds exactly as Q8_0 and also stores the block sum
        return ggml.dequantize(ggml.quantize(x, "Q8_0"), "Q8_0").reshape(x.shape)
    if vec_dot_type == "Q8_K":
        return round_q8_k(x)
    raise ValueError(f"vec_dot_type={vec_dot_type!r}; ggml-cpu uses one of F32, F16, Q8_0, Q8_1, Q8_K")


def gelu_ggml(x):
    """ggml-cpu's GELU: float16 input, tanh approximation, float16 result (0 below -10, x above 10)."""
    x16 = x.astype(np.float16).astype(np.float32)
    inner = np.float32(0.7978845608) * x16 * (1 + np.float32(0.044715) * x16 * x16)
    table = (0.5 * x16 * (1 + np.tanh(inner))).astype(np.float16).astype(np.float32)
    return np.where(x <= -10, np.float32(0), np.where(x >= 10, x, table)).astype(np.float32)


def _layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def embed(sentences, weights, types, activations=True, ggml_gelu=True):
    """MiniLM embeddings computed as ggml-cpu computes them (see the module docstring).

    weights: {Hugging Face name: float32} (e.g. minilm_file.read_minilm); types: {Hugging Face
    name: weight type} for the matrices (missing names count as F32).
    """
    cfg = config()
    gelu = gelu_ggml if ggml_gelu else gelu_erf

    def linear(x, name):
        weight_type = types.get(f"{name}.weight", "F32")
        if activations:
            x = round_activations(x, VEC_DOT_TYPES[weight_type])
        return x @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]

    token_ids, mask = tokenize(sentences)
    n, length = token_ids.shape
    head_size = cfg.hidden_size // cfg.n_head
    positions = np.broadcast_to(np.arange(length), (n, length))[mask]
    x = (
        weights["embeddings.word_embeddings.weight"][token_ids[mask]]
        + weights["embeddings.position_embeddings.weight"][positions]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )  # packed: (n_tokens, hidden)
    x = _layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"], cfg.norm_eps)
    key_is_padding = ~mask[:, None, None, :]

    def heads(packed):  # (n_tokens, hidden) -> (n, head, token, d)
        padded = np.zeros((n, length, cfg.hidden_size), dtype=np.float32)
        padded[mask] = packed
        return padded.reshape(n, length, cfg.n_head, head_size).transpose(0, 2, 1, 3)

    for i in range(cfg.n_layer):
        layer = f"encoder.layer.{i}"
        query, key, value = (heads(linear(x, f"{layer}.attention.self.{part}")) for part in ("query", "key", "value"))
        scores = np.where(key_is_padding, -np.inf, query @ key.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_size)))
        context = (softmax(scores) @ value).transpose(0, 2, 1, 3)[mask].reshape(-1, cfg.hidden_size)
        x = _layer_norm(
            x + linear(context, f"{layer}.attention.output.dense"),
            weights[f"{layer}.attention.output.LayerNorm.weight"],
            weights[f"{layer}.attention.output.LayerNorm.bias"],
            cfg.norm_eps,
        )
        up = gelu(linear(x, f"{layer}.intermediate.dense"))
        x = _layer_norm(
            x + linear(up, f"{layer}.output.dense"),
            weights[f"{layer}.output.LayerNorm.weight"],
            weights[f"{layer}.output.LayerNorm.bias"],
            cfg.norm_eps,
        )
    states = np.zeros((n, length, cfg.hidden_size), dtype=np.float32)
    states[mask] = x
    pooled = states.sum(axis=1) / mask.sum(axis=1, keepdims=True).astype(np.float32)  # mean over real tokens
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
