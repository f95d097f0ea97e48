"""What the papers report, with the place each statement is read from: printed beside our measurements.

Only statements read in the cited text are here (abstracts and the authors' READMEs); the papers' full
tables (perplexities per model size) are not copied: read them at the source.
"""

LLM_INT8 = "Dettmers et al. 2022, LLM.int8(), arXiv:2208.07339"
SMOOTHQUANT = "Xiao et al. 2023, SmoothQuant (ICML), arXiv:2211.10438; README of mit-han-lab/smoothquant@0a3f939"
QUAROT = "Ashkboos et al. 2024, QuaRot, arXiv:2404.00456; README of spcl/QuaRot@012e85b"

# (method, model(s), setting, what the source reports, source)
CLAIMS = (
    (
        "LLM.int8()",
        "OPT-175B, BLOOM-176B",
        "W8A8, outlier features (|x| >= 6) in 16-bit",
        "no performance degradation up to 175B parameters; more than 99.9% of values multiplied in 8-bit",
        f"{LLM_INT8}, abstract",
    ),
    (
        "LLM.int8()",
        "OPT/GPT-style, 125M-175B",
        "outlier features vs scale",
        "systematic outlier features (|x| >= 6 in >= 25% of layers and >= 6% of positions) emerge with scale; "
        "a phase shift at around 6.7B parameters",
        f"{LLM_INT8}, sec. 4",
    ),
    (
        "SmoothQuant",
        "OPT-175B, BLOOM-176B, GLM-130B, MT-NLG 530B",
        "W8A8, every matmul, alpha migration",
        "W8A8 without degrading accuracy (negligible loss); calibration on 512 random Pile sentences",
        f"{SMOOTHQUANT} (abstract, Results)",
    ),
    (
        "QuaRot",
        "LLaMa2-70B",
        "W4A4 and 4-bit KV cache, Hadamard rotations, nothing kept in float",
        "at most +0.29 WikiText perplexity; 99% of the zero-shot performance kept",
        f"{QUAROT} (abstract)",
    ),
)


def claims_text():
    """The published statements as text, one block per method, with their sources."""
    lines = []
    for method, models, setting, finding, source in CLAIMS:
        lines += [f"{method} on {models} ({setting}):", f"    {finding}", f"    [{source}]"]
    return "\n".join(lines)
