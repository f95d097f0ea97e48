"""What the papers report, with the place each statement is read from: printed beside our measurements.

Two kinds: statements read in the abstracts and the authors' READMEs (CLAIMS), and a few rows of the papers'
tables (TABLE_ROWS), each with its table number, chosen to show the three findings notebook 10 teaches: naive
8-bit activations break with scale, SmoothQuant repairs W8A8, rotation repairs W4A4.
"""

LLM_INT8 = "Dettmers et al. 2022, LLM.int8(), arXiv:2208.07339"
SMOOTHQUANT = "Xiao et al. 2023, SmoothQuant (ICML), arXiv:2211.10438; README of mit-han-lab/smoothquant@0a3f939"
QUAROT = "Ashkboos et al. 2024, QuaRot, arXiv:2404.00456; README of spcl/QuaRot@012e85b"
SPINQUANT = "Liu et al. 2024, SpinQuant, arXiv:2405.16406"

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
    (
        "SpinQuant",
        "LLaMA-2 7B",
        "W4A4 and 4-bit KV cache, rotations learned (Cayley optimization) instead of random",
        "random rotations differ by up to 13 points of zero-shot accuracy; learned ones leave a 2.9-point gap to "
        "full precision, 25.0 points better than SmoothQuant",
        f"{SPINQUANT} (abstract)",
    ),
)


# (paper, table, model, metric, setting, value): perplexity rows as printed in the cited table. LLM.int8()'s
# Table 1 models are the authors' dense autoregressive transformers trained in fairseq (125M-13B).
TABLE_ROWS = (
    (LLM_INT8, "Table 1", "fairseq LM 6.7B", "C4 perplexity", "32-bit float", 13.30),
    (LLM_INT8, "Table 1", "fairseq LM 6.7B", "C4 perplexity", "Int8 absmax (per tensor)", 14.59),
    (LLM_INT8, "Table 1", "fairseq LM 6.7B", "C4 perplexity", "LLM.int8() (vector-wise + decomposition)", 13.24),
    (LLM_INT8, "Table 1", "fairseq LM 13B", "C4 perplexity", "32-bit float", 12.45),
    (LLM_INT8, "Table 1", "fairseq LM 13B", "C4 perplexity", "Int8 absmax (per tensor)", 19.08),
    (LLM_INT8, "Table 1", "fairseq LM 13B", "C4 perplexity", "LLM.int8() (vector-wise + decomposition)", 12.45),
    (SMOOTHQUANT, "Table 3", "OPT-175B", "WikiText perplexity", "FP16", 10.99),
    (SMOOTHQUANT, "Table 3", "OPT-175B", "WikiText perplexity", "W8A8 (naive)", 93080.0),
    (SMOOTHQUANT, "Table 3", "OPT-175B", "WikiText perplexity", "SmoothQuant-O3 (static per-tensor)", 11.17),
    (QUAROT, "Table 1", "LLaMA2-7B", "WikiText-2 perplexity", "FP16", 5.47),
    (QUAROT, "Table 1", "LLaMA2-7B", "WikiText-2 perplexity", "W4A4 SmoothQuant", 83.12),
    (QUAROT, "Table 1", "LLaMA2-7B", "WikiText-2 perplexity", "W4A4 QuaRot", 6.10),
)


def table_rows_text():
    """TABLE_ROWS as text grouped by paper and model, each group with its source and table number."""
    lines, group = [], None
    for paper, table, model, metric, setting, value in TABLE_ROWS:
        if (paper, table, model) != group:
            group = (paper, table, model)
            lines.append(f"{model}, {metric} [{paper.split(',')[0]}, {table}]")
        lines.append(f"    {setting:42} {value:>9.2f}")
    return "\n".join(lines)


def claims_text():
    """The published statements as text, one block per method, with their sources."""
    lines = []
    for method, models, setting, finding, source in CLAIMS:
        lines += [f"{method} on {models} ({setting}):", f"    {finding}", f"    [{source}]"]
    return "\n".join(lines)
