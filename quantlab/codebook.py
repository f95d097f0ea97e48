"""Non-uniform grids: k-means codebooks, NF4 and IQ4_NL's fixed table."""

import numpy as np

# The 16 signed levels of GGML's IQ4_NL (and of IQ4_XS), scaled by one fp16 number per block of 32.
# Source: llama.cpp, ggml/src/ggml-common.h, `kvalues_iq4nl`.
IQ4_NL_LEVELS = np.array(
    [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.int8
)
