"""llama.cpp's published figures for the mixes (quality, bits per weight), and the article's table, with sources.

Numbers here are read from the cited files, never computed by quantlab; tests check our computed sizes
against them.
"""

from .sizes import Architecture

# Quality: tools/perplexity/README.md, "LLaMA 3 8b Scoreboard" (measured at llama.cpp revision f364eb6f,
# Wikitext-2, CUDA on an RTX 4090), read in llama.cpp@0c1e57098 (vendored in llama-cpp-python 0.3.36;
# the same numbers at @4227c9be, 0.3.16). Rows without an importance matrix ("imatrix None"):
# mix -> (model size GiB, PPL, PPL increase over F16, mean KL divergence to F16). The F16 row's
# increase is only the 16-bit rounding of the stored reference logits (as the README says).
LLAMA_3_8B_QUALITY = {
    "F16": (14.97, 6.233160, 0.001524, 0.000551),
    "Q8_0": (7.96, 6.234284, 0.002650, 0.001355),
    "Q6_K": (6.14, 6.253382, 0.021748, 0.005452),
    "Q5_K_M": (5.33, 6.288607, 0.056974, 0.010762),
    "Q5_K_S": (5.21, 6.336598, 0.104964, 0.016595),
    "Q5_1": (5.65, 6.337857, 0.106223, 0.018045),
    "Q5_0": (5.21, 6.363224, 0.131591, 0.022239),
    "Q4_K_M": (4.58, 6.407115, 0.175482, 0.031273),
    "Q4_K_S": (4.37, 6.500529, 0.268895, 0.043136),
    "Q4_1": (4.78, 6.682737, 0.451103, 0.071683),
    "Q4_0": (4.34, 6.700147, 0.468514, 0.071940),
    "Q3_K_L": (4.03, 6.787876, 0.556242, 0.087176),
    "Q3_K_M": (3.74, 6.888498, 0.656864, 0.101913),
    "Q3_K_S": (3.41, 7.863786, 1.632152, 0.228217),
    "Q2_K": (2.96, 9.751568, 3.519934, 0.445132),
}
# Same file, "LLaMA 2 vs. LLaMA 3 Quantization comparison", Llama 2 7B columns: mix -> (PPL increase, KLD).
# (Its Q2_K "Mean PPL" cell, 5.794552, is the F16 value the other columns imply: PPL / ratio for
# Q4_K_M, Q6_K and Q8_0 all give 5.7946; so only the increases are used here.)
LLAMA_2_7B_QUALITY = {
    "Q8_0": (0.003990, 0.000369),
    "Q6_K": (0.013941, 0.002098),
    "Q4_K_M": (0.082526, 0.012686),
    "Q2_K": (0.625552, 0.108903),
}
# Bits per weight, Llama 2 7B: examples/quantize/README.md, "## Llama 2 7B", llama.cpp@75cd4c77
# (llama-cpp-python 0.2.60). Its Q2_K is the 2023 mix, before llama.cpp's PR #4897 (January 2024).
LLAMA_2_7B_BPW = {
    "Q2_K": 3.35,
    "Q3_K_S": 3.50,
    "Q3_K_M": 3.91,
    "Q3_K_L": 4.27,
    "Q4_K_S": 4.58,
    "Q4_K_M": 4.84,
    "Q5_K_S": 5.52,
    "Q5_K_M": 5.68,
    "Q6_K": 6.56,
}
# Bits per weight, Llama 3.1 8B: tools/quantize/README.md, llama.cpp@0c1e57098 (llama-cpp-python 0.3.36).
LLAMA_3_1_8B_BPW = {
    "Q2_K": 3.1593,
    "Q3_K_S": 3.6429,
    "Q3_K_M": 3.9960,
    "Q3_K_L": 4.2979,
    "Q4_K_S": 4.6672,
    "Q4_K_M": 4.8944,
    "Q5_K_S": 5.5704,
    "Q5_K_M": 5.7036,
    "Q6_K": 6.5633,
    "Q8_0": 8.5008,
    "F16": 16.0005,
}
# The Llama 2 7B table of the article the course grew from ("From Float32 to Q4_K_M: What LLM Quantization
# Actually Does to Weights"): mix -> (bits per weight, GB, WikiText-2 PPL).
ARTICLE_LLAMA_2_7B = {
    "F16": (16, 13.5, 5.25),
    "Q8_0": (8.5, 7.2, 5.26),
    "Q6_K": (6.6, 5.5, 5.28),
    "Q5_K_M": (5.7, 4.8, 5.32),
    "Q4_K_M": (4.8, 4.1, 5.40),
    "Q3_K_M": (3.9, 3.3, 5.73),
    "Q2_K": (3.4, 2.9, 6.59),
}
# Llama 3 8B (the scoreboard's model): Llama 3.1 8B's shapes without its 64-value rope_freqs table.
LLAMA_3_8B = Architecture("Llama-3-8B", 32, 4096, 14336, 128256, 32, n_head_kv=8)
