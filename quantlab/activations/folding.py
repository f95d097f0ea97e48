"""SmoothQuant and a Hadamard rotation folded into the character model's weights, where the fold is exact.

The character model is pre-RMSNorm without biases, so each smoothing vector has a free place to go:
    attn_q/k/v input  = rms_norm(x) * attn_norm.weight    -> attn_norm.weight / s, q/k/v columns * s
    ffn_up input      = rms_norm(x) * ffn_norm.weight     -> ffn_norm.weight / s,  ffn_up columns * s
    attn_output input = softmax(...) @ v (linear in v)    -> attn_v rows / s,      attn_output columns * s
ffn_down reads GELU's output: nothing linear sits before it, so it is left as it is. (MiniLM is
post-LayerNorm: its norm's output is also the residual stream, so a fold there would change the
residual too; compare.py applies the division at the layer's input instead.)

The rotation fold is QuaRot's for the attention output projection: each head's values are rotated by
one random Hadamard Q_h of the head size (attn_v rows: Q_h^T W_v), so the attention output of every
head comes out rotated (softmax mixes tokens, not channels: A (V Q_h) = (A V) Q_h), and attn_output's
columns take the same Q (W_o Q): no rotation is computed at run time.
"""

from ..lm import CharLM
from .compare import shared_smoothing_scales
from .hadamard import random_hadamard
from .smoothquant import fold_into_linear, fold_into_next, fold_into_norm


def smooth_char_lm(model, inputs, alpha=0.5):
    """(a new CharLM with the smoothing folded in, {weight name: s} applied); its logits equal the original's.

    inputs: {weight name: FP32 input} from capture.capture_char_lm (the calibration statistics).
    """
    if not isinstance(model, CharLM):
        raise TypeError(f"model must be a quantlab.lm.CharLM, got {type(model).__name__}")
    weights = model.weights
    scales = shared_smoothing_scales(inputs, weights, alpha)
    new = {}
    for i in range(model.config.n_layer):
        block = f"blk.{i}"
        for norm, readers in (("attn_norm", ("attn_q", "attn_k", "attn_v")), ("ffn_norm", ("ffn_up",))):
            s = scales[f"{block}.{readers[0]}.weight"]
            new[f"{block}.{norm}.weight"], _ = fold_into_norm(weights[f"{block}.{norm}.weight"], None, s)
            for reader in readers:
                new[f"{block}.{reader}.weight"] = fold_into_next(weights[f"{block}.{reader}.weight"], s)
        s = scales[f"{block}.attn_output.weight"]
        new[f"{block}.attn_v.weight"], _ = fold_into_linear(new[f"{block}.attn_v.weight"], None, s)
        new[f"{block}.attn_output.weight"] = fold_into_next(weights[f"{block}.attn_output.weight"], s)
    applied = {name: s for name, s in scales.items() if ".ffn_down." not in name}
    return model.with_weights(new), applied


def rotate_attention_values(model, seed=0):
    """(a new CharLM with every head's values (Q_h^T W_v) and attn_output's columns (W_o Q) rotated, the rotation).

    Its logits equal the original's; the input of attn_output (what its quantizer sees) is rotated.
    """
    if not isinstance(model, CharLM):
        raise TypeError(f"model must be a quantlab.lm.CharLM, got {type(model).__name__}")
    cfg, weights = model.config, model.weights
    head = cfg.d_model // cfg.n_head
    rotation = random_hadamard(head, seed)
    new = {}
    for i in range(cfg.n_layer):
        v, o = weights[f"blk.{i}.attn_v.weight"], weights[f"blk.{i}.attn_output.weight"]
        heads = v.reshape(cfg.n_head, head, cfg.d_model)  # rows of each head's values
        new[f"blk.{i}.attn_v.weight"] = rotation.rotate(heads.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(v.shape)
        new[f"blk.{i}.attn_output.weight"] = rotation.rotate(o.reshape(-1, cfg.n_head, head)).reshape(o.shape)
    return model.with_weights(new), rotation
