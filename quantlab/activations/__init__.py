"""Outliers in activations: statistics, W8A8, LLM.int8()'s decomposition, SmoothQuant and Hadamard rotations.

Every linear layer y = x W^T + b (W in PyTorch layout, (out, in)) gets its input x quantized too:
    w8a8.py        activation and weight codes, the integer matmul, per-tensor/token/channel scales
    llm_int8.py    outlier features (|x| >= 6) through the matmul in float, the rest in int8
    smoothquant.py s_j = max|X_j|^a / max|W_j|^(1-a): x / s and W * s, folded into a norm or linear
    hadamard.py    random Hadamard rotations (signs x Walsh-Hadamard), fast transform, folded into W
    stats.py       per-channel max |x|, kurtosis, LLM.int8()'s outlier features and "systematic" ones
    effects.py     one layer, one knob: LLM.int8()'s threshold, SmoothQuant's alpha, a rotation (notebook sliders)
    planted.py     a lone outlier vs an outlier channel planted in Gaussian data, with and without rotation
    capture.py     the inputs of every linear of MiniLM and of the character model     (real models)
    compare.py     each method on both models: embedding cosine, perplexity and KL       (real models)
    folding.py     SmoothQuant folded into the character model's norms and attn_v, exactly
    layers.py      the layers notebook 10 looks at, by short key ('minilm.1.ffn_up'), captured once per process
    reports.py     notebook 10's numbers as text;  published.py  what the papers report, with sources
capture, compare, folding, layers and reports import the models; they are not imported here (import them by name).
"""

from . import effects, hadamard, llm_int8, planted, smoothquant, stats, w8a8

__all__ = ["effects", "hadamard", "llm_int8", "planted", "smoothquant", "stats", "w8a8"]
