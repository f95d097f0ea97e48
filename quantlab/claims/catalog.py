"""The article's technical claims as data: its words (briefly quoted), a verdict, the correction, the evidence.

Each claim's evidence is a notebook section that computes it ("notebook": file#heading), a function of
`quantlab.claims.measure` that recomputes it in notebook 12 ("computed"), or a citation ("citation": a
llama.cpp file or PR, a paper and its section). Quotes are verbatim, short, and there to be critiqued; a
quote in [brackets] paraphrases a table row the article prints without sentence text.
"""

from dataclasses import dataclass

VERDICTS = ("right", "partly right", "wrong")
EVIDENCE_KINDS = ("notebook", "computed", "citation")

# Topic key -> the heading of its section in notebook 12, in the order the article raises them.
TOPICS = {
    "memory": "Memory and units",
    "arithmetic": "The quantizer's arithmetic",
    "outliers": "Outliers",
    "groups": "Groups and their price",
    "kquants": "K-quants",
    "names": "What a mix name means",
    "quality": "Perplexity and the article's table",
    "methods": "GPTQ, AWQ and GGUF",
    "takeaway": "The practical takeaway",
}

NOTEBOOKS = {
    "00": "00_start_here.ipynb",
    "01": "01_numbers_in_a_computer.ipynb",
    "02": "02_symmetric_vs_asymmetric.ipynb",
    "03": "03_outliers.ipynb",
    "04": "04_groups.ipynb",
    "05": "05_non_uniform_grids.ipynb",
    "06": "06_inside_gguf.ipynb",
    "07": "07_mixes.ipynb",
    "08": "08_quality.ipynb",
    "09": "09_calibration.ipynb",
    "10": "10_activations.ipynb",
    "11": "11_in_llama_cpp.ipynb",
    "12": "12_myth_vs_measurement.ipynb",
    "13": "13_every_format.ipynb",
}


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: kind 'notebook' (ref 'file.ipynb#Heading'), 'computed' (a measure function), 'citation'."""

    kind: str
    ref: str

    @property
    def notebook(self):
        """The notebook file a 'notebook' evidence points to."""
        return self.ref.partition("#")[0]

    @property
    def heading(self):
        """The section heading a 'notebook' evidence points to."""
        return self.ref.partition("#")[2]


@dataclass(frozen=True)
class Claim:
    """One claim of the article: id, topic, its words, the verdict, the correct statement, the evidence."""

    id: str
    topic: str
    quote: str
    verdict: str
    correction: str
    evidence: tuple


def nb(number, heading):
    """Evidence: the section `heading` of course notebook `number` ("04")."""
    return Evidence("notebook", f"{NOTEBOOKS[number]}#{heading}")


def computed(function):
    """Evidence: `quantlab.claims.measure.<function>()`, run live in notebook 12."""
    return Evidence("computed", function)


def cite(text):
    """Evidence: a source outside the course (llama.cpp file or PR, paper and section)."""
    return Evidence("citation", text)


LLAMA_CPP = "llama.cpp@0c1e57098 (vendored in llama-cpp-python 0.3.36)"
PERPLEXITY_README = f"tools/perplexity/README.md, {LLAMA_CPP}"
LLM_INT8 = "Dettmers et al. 2022, LLM.int8(), arXiv:2208.07339"
GPTQ = "Frantar et al. 2022, GPTQ, arXiv:2210.17323"
AWQ = "Lin et al. 2023, AWQ, arXiv:2306.00978"
NB03_PAPER = "Why about 50: the argument on paper"
NB03_GROUPS = "Containing the damage: a scale per group"
NB03_MINILM = "Where real outliers live: all-MiniLM-L6-v2"
NB06_KQUANTS = "What K-quants really do (and what they do not)"
NB07_BPW = "Llama 2 7B: our bits per weight against llama.cpp's table"
NB07_TABLE = "The article's table, checked"
NB08_PUBLISHED = "Compared with llama.cpp's published numbers"
NB09_OBJECTIVE = "One objective: the layer's output error"

CLAIMS = (
    # --- memory -----------------------------------------------------------------------------------------
    Claim(
        "M1",
        "memory",
        "a 7 billion parameter model stored as 32-bit floats requires around 28 GB of memory",
        "right",
        "7×10⁹ weights × 4 bytes = 28 GB (10⁹ bytes), which is 26.1 GiB (2³⁰ bytes, what `free -h` reports). "
        "That is the weights alone: running the model also needs the KV cache and buffers.",
        (computed("model_memory"), nb("00", "The arithmetic"), nb("01", "Seven billion weights, per format")),
    ),
    Claim(
        "M2",
        "memory",
        "Halve the precision to float16 and you get to 14 GB",
        "right",
        "14 GB, or 13.0 GiB; bf16 takes the same.",
        (computed("model_memory"), nb("01", "Seven billion weights, per format")),
    ),
    Claim(
        "M3",
        "memory",
        "Quantization takes this further by representing weights as integers",
        "partly right",
        "Integer codes plus the numbers that scale them: every block also stores its scales (Q4_0: an fp16 per 32 "
        "weights, 4 + 0.5 bits per weight). Not every format stores integers: MXFP4 and NVFP4 store 4-bit floats, the IQ types store "
        "indices into fixed tables of points.",
        (
            nb("04", "Q4_0 is exactly this"),
            nb("13", "MXFP4 and NVFP4: notebook 01's floats with a shared scale"),
            nb("13", "Bits per weight, from the layout"),
        ),
    ),
    # --- arithmetic -------------------------------------------------------------------------------------
    Claim(
        "A1",
        "arithmetic",
        "scale = max_val / (2 ** (bits - 1) - 1)",
        "right",
        "The symmetric recipe is right as written (scale from max|w|, round, clip). At 4 bits its codes stay "
        "within −7…7, 15 levels: the −8 its clip allows is never reached. llama.cpp's Q4_0 uses all 16 "
        "(scale = m / −8 for the weight m of largest magnitude, with its sign).",
        (computed("article_code_range"), nb("02", "Restricted or full range?")),
    ),
    Claim(
        "A2",
        "arithmetic",
        "you add a zero point to shift the integer range to match the actual distribution of values",
        "right",
        "An integer zero point puts all 2^b levels over the weights' range; it pays off for skewed blocks "
        "(all-positive weights: 25.1 dB SQNR against 18.7 dB symmetric, notebook 02). The article's code spans "
        "min…max without widening it to include 0, so an exact 0 need not be a level; llama.cpp's Q4_1 and Q4_K "
        "store a float minimum instead of an integer zero point, and give up an exact 0 too.",
        (nb("02", "The recipe: range → scale → round → clamp"), nb("02", "When the zero point pays off")),
    ),
    Claim(
        "A3",
        "arithmetic",
        "for 8-bit integers it is typically small enough that model output is nearly indistinguishable "
        "from the float16 baseline",
        "partly right",
        "True with a scale per small block: Q8_0 adds 0.004 to Llama 2 7B's perplexity (llama.cpp's table) and "
        "0.02 % to our model's. Not with one scale per tensor when outliers exist: per-tensor INT8 with one "
        "100σ weight is worse than clean INT4 on every seed (notebook 03), and 8-bit weights and activations with "
        "one activation scale per tensor take MiniLM's mean cosine to 0.982, against 0.997 per token (notebook 10).",
        (
            nb("08", NB08_PUBLISHED),
            nb("03", NB03_PAPER),
            nb("10", "The whole encoder: each method on every linear layer"),
        ),
    ),
    Claim(
        "A4",
        "arithmetic",
        "scale = np.max(np.abs(g)) / (2 ** (bits - 1) - 1)",
        "partly right",
        "The code snippets compute what they say, but divide by zero when a tensor or group is all zeros "
        "(scale 0, so the codes are NaN before the cast to int8). llama.cpp guards it: "
        "`id = d ? 1.0f/d : 0.0f`. The group loop also runs in Python once per group, where one reshape to "
        "(groups, 32) does every group at once.",
        (computed("zero_group_codes"), cite(f"ggml/src/ggml-quants.c, quantize_row_q4_0_ref, {LLAMA_CPP}")),
    ),
    # --- outliers ---------------------------------------------------------------------------------------
    Claim(
        "O1",
        "outliers",
        "LLMs have a property that makes it fail at 4 bits: outliers",
        "partly right",
        "One scale per tensor is coarse at 4 bits even without outliers: scales per group of 32 cut the clean "
        "error 2.7× (2.66e-4 → 9.8e-5, notebook 03), and outliers make it worse. The outliers that broke 8-bit "
        "LLM inference were activations (notebook 10); in MiniLM's weights, the groups its outliers ruin "
        "barely matter for its embeddings (notebook 03).",
        (nb("03", NB03_GROUPS), nb("03", NB03_MINILM), nb("10", "The article's claim about 2022's outliers")),
    ),
    Claim(
        "O2",
        "outliers",
        "Researchers found in 2022 that transformer models develop a small number of weight channels with "
        "values an order of magnitude larger than the rest.",
        "wrong",
        "The 2022 finding (LLM.int8()) is about activations: a few feature dimensions of the hidden states reach "
        "|x| ≥ 6, systematically across layers and positions from about 6.7B parameters (§4). Large weights "
        "exist too and line up with those features (MiniLM, notebook 10), but group-wise weight scales do "
        "nothing for activation outliers.",
        (nb("10", "The article's claim about 2022's outliers"), cite(f"{LLM_INT8}, abstract and §4")),
    ),
    Claim(
        "O3",
        "outliers",
        "they are load-bearing features the model has learned to use for specific computations",
        "right",
        "Right for LLM.int8()'s activation features: its abstract calls them highly systematic emergent features "
        "that dominate attention and predictive performance, which is why it keeps them in 16 bits rather than "
        "clipping them.",
        (cite(f"{LLM_INT8}, abstract"), nb("10", "The article's claim about 2022's outliers")),
    ),
    Claim(
        "O4",
        "outliers",
        "their presence forces the quantization scale to span a much wider range, which means all the other "
        "weights get shoved into a coarser grid",
        "right",
        "Right for one scale per tensor: one weight of 10 among N(0, 0.1²) weights takes the 4-bit step from "
        "about 0.05 to 10/7 ≈ 1.43.",
        (nb("03", NB03_PAPER), computed("article_outlier_step")),
    ),
    Claim(
        "O5",
        "outliers",
        "15 integer levels spread across a range of 20, which is a step size of about 1.33",
        "wrong",
        "15 levels have 14 gaps: the step is 20/14 = 10/7 ≈ 1.43, the article's own code's scale max|w|/7. "
        "20/15 counts levels instead of gaps.",
        (computed("article_outlier_step"), nb("03", NB03_PAPER)),
    ),
    Claim(
        "O6",
        "outliers",
        "now collapse to the same few integers",
        "partly right",
        "To one integer: every |w| below half a step (0.71) rounds to code 0, so all weights in ±0.5 become "
        "exactly 0 and each one's error is the weight itself (MSE ≈ σ²).",
        (computed("article_outlier_step"), nb("03", NB03_PAPER)),
    ),
    Claim(
        "O7",
        "outliers",
        "typical output: 0.000012 vs 0.008400",
        "wrong",
        "The article's own code, run over many seeds, prints about 2e-4 without the outlier, some 16 times the "
        "1.2e-5 it shows, and about 1e-2 with it (near its 8.4e-3).",
        (computed("article_outlier_demo"), nb("03", "The experiment, once")),
    ),
    Claim(
        "O8",
        "outliers",
        "The error increases by three orders of magnitude because of a single value.",
        "wrong",
        "About 50×: median 51× over 1,000 seeds (5–95 %: 36–67×), 49× predicted on paper, for 1,024 gaussian "
        "weights at 4 bits. The ratio nears 10³ only at 8 bits, whose clean grid is very fine.",
        (computed("article_outlier_demo"), nb("03", "The experiment, 1,000 times"), nb("03", NB03_PAPER)),
    ),
    # --- groups -----------------------------------------------------------------------------------------
    Claim(
        "G1",
        "groups",
        "the outlier in one block only ruins the precision of those 32 values, not the entire layer",
        "right",
        "With groups of 32, the other 31 groups' error does not change (9.6e-5 with or without the outlier). In "
        "MiniLM, restoring the groups its outlier weights ruin barely moves its embeddings (mean cosine "
        "0.9684 → 0.9692).",
        (nb("03", NB03_GROUPS), nb("03", NB03_MINILM)),
    ),
    Claim(
        "G2",
        "groups",
        "adding 1 bit of overhead per weight at group size 32",
        "right",
        "32 bits of fp32 scale shared by 32 weights: 1 bit per weight.",
        (computed("grouped_bits_per_weight"), nb("04", "The cost of a scale")),
    ),
    Claim(
        "G3",
        "groups",
        "For 4-bit weights, that overhead is 25%",
        "right",
        "1 bit on 4 is 25 %.",
        (computed("grouped_bits_per_weight"),),
    ),
    Claim(
        "G4",
        "groups",
        "bringing the effective bit-width to around 4.125 bits per parameter",
        "wrong",
        "4 + 32/32 = 5.0 bits per weight. 4.125 is an fp16 scale per 128 weights; GGUF's Q4_0 stores an fp16 "
        "scale per 32: 4.5.",
        (computed("grouped_bits_per_weight"), nb("04", "The cost of a scale")),
    ),
    Claim(
        "G5",
        "groups",
        "Still a substantial improvement over float16.",
        "right",
        "5 bits is 3.2 times smaller than 16.",
        (computed("grouped_bits_per_weight"),),
    ),
    Claim(
        "G6",
        "groups",
        "This is the foundation that GGUF and llama.cpp build on.",
        "right",
        "Q4_0 is a scale per 32 weights, stored in fp16 (18 bytes per 32 weights = 4.5 bits) over a full-range "
        "grid (codes −8…7); the K-quants add a second level of scales.",
        (nb("04", "Q4_0 is exactly this"), nb("06", "Two levels of scales")),
    ),
    # --- kquants ----------------------------------------------------------------------------------------
    Claim(
        "K1",
        "kquants",
        "Standard group quantization still uses a uniform grid, meaning the quantization levels are evenly "
        "spaced between the minimum and maximum.",
        "right",
        "Evenly spaced, yes; for the article's symmetric code they run from −max|w| to +max|w| (the minimum "
        "need not be a level), for an asymmetric grid from the minimum to the maximum.",
        (nb("02", "The recipe: range → scale → round → clamp"),),
    ),
    Claim(
        "K2",
        "kquants",
        "K-quants, introduced to llama.cpp by contributor Iwan Kawrakow",
        "right",
        'Iwan Kawrakow (ikawrakow) added them in llama.cpp PR #1684, "k-quants".',
        (cite('llama.cpp PR #1684, "k-quants"'), nb("06", NB06_KQUANTS)),
    ),
    Claim(
        "K3",
        "kquants",
        "replace the uniform grid with a learned codebook derived from k-means clustering",
        "wrong",
        "Every K-quant sub-block is a uniform grid, ŵ = d·s_j·q − dmin·m_j, whose scale and min come from a "
        "weighted least-squares search (make_qkx2_quants in ggml-quants.c). A codebook of 16 fp16 levels per "
        "sub-block of 32 would cost 8 more bits per weight, more than the whole 144-byte block.",
        (
            computed("kquant_level_gaps"),
            nb("06", NB06_KQUANTS),
            nb("05", "Footnote: where GGUF's non-uniform grids are"),
        ),
    ),
    Claim(
        "K4",
        "kquants",
        "Most weights cluster around zero, with fewer large values.",
        "right",
        "Trained weights are bell-shaped and heavy-tailed: MiniLM's largest weights sit up to 175 standard "
        "deviations out.",
        (nb("05", "Why a uniform grid wastes levels"), nb("03", NB03_MINILM)),
    ),
    Claim(
        "K5",
        "kquants",
        "A uniform grid wastes precision on the sparse high-magnitude region and packs too few levels into "
        "the dense low-magnitude region.",
        "right",
        "On gaussian weights the 8 outer levels of a 16-level uniform grid serve 6 % of the weights. The best "
        "density of levels for squared error is ∝ p(w)^(1/3) (Panter & Dite 1951): denser in the middle, but "
        "less so than the weights, since the tails still need levels.",
        (nb("05", "Why a uniform grid wastes levels"),),
    ),
    Claim(
        "K6",
        "kquants",
        "K-means clustering finds the quantization levels that minimise the total reconstruction error",
        "partly right",
        "Lloyd's algorithm (k-means in one dimension) never increases the error but stops in a local minimum "
        "that depends on where it starts. Per block its levels must be stored: 16 fp16 levels per 64 weights "
        "cost 4 more bits per weight, and around 4.5 bits per weight IQ4_NL's fixed table does better (notebook 05).",
        (nb("05", "Lloyd's algorithm: k-means in one dimension"), nb("05", "At equal bits per weight")),
    ),
    Claim(
        "K7",
        "kquants",
        "a superblock of 256 weights contains 8 sub-blocks of 32 weights each",
        "partly right",
        "Q4_K and Q5_K: 8 sub-blocks of 32. Q2_K, Q3_K and Q6_K: 16 sub-blocks of 16.",
        (
            computed("kquant_sub_blocks"),
            cite(f"ggml/src/ggml-common.h, block_q2_K … block_q6_K, {LLAMA_CPP}"),
            nb("06", "Exact bits per weight, from the byte layout"),
        ),
    ),
    Claim(
        "K8",
        "kquants",
        "Each sub-block has its own quantization scale (stored at reduced precision), and the superblock has "
        "a higher-precision shared scale that normalises the sub-block scales.",
        "right",
        "6-bit scales s_j under an fp16 d in Q4_K (8-bit in Q6_K, 4-bit in Q2_K). Q2_K, Q4_K and Q5_K also store "
        "a min per sub-block under a second fp16, dmin: ŵ = d·s_j·q − dmin·m_j.",
        (nb("06", "Two levels of scales"), nb("06", "Exact bits per weight, from the byte layout")),
    ),
    Claim(
        "K9",
        "kquants",
        "lets you store sub-block scales more cheaply without losing the ability to represent large dynamic ranges",
        "right",
        "A scale and a min per 32 weights cost (2×16 + 16×6)/256 = 0.5 bits per weight in Q4_K, what Q4_0 pays "
        "for one fp16 scale per 32. Rounding the scales to 6 bits costs a few percent of error (median 1.057× "
        "the best uniform grid's, notebook 06).",
        (nb("06", "Two levels of scales"), nb("06", NB06_KQUANTS)),
    ),
    # --- names ------------------------------------------------------------------------------------------
    Claim(
        "N1",
        "names",
        "Q4: 4 bits per weight on average",
        "wrong",
        "4-bit codes; with its scales Q4_K costs 4.5 bits per weight, and a Q4_K_M file more: 4.84 on Llama 2 "
        "7B, 4.89 on Llama 3.1 8B, 7.36 on Gemma 3 270M (whose embedding falls back to Q8_0).",
        (computed("mix_bits_per_weight"), nb("07", NB07_BPW), nb("07", "A real file: Gemma 3 270M in Q4_K_M")),
    ),
    Claim(
        "N2",
        "names",
        "_K: K-quant method (k-means codebook rather than uniform grid)",
        "partly right",
        "_K is the K-quant family, but a K-quant is a uniform grid per sub-block under two levels of scales, "
        "not a k-means codebook.",
        (nb("07", "Reading the name"), nb("06", NB06_KQUANTS)),
    ),
    Claim(
        "N3",
        "names",
        "_M: Medium variant",
        "right",
        "The name of a set of per-tensor rules in llama.cpp's src/llama-quant.cpp.",
        (nb("07", "Reading the name"),),
    ),
    Claim(
        "N4",
        "names",
        "The M/S/L suffixes control which layers get elevated to higher precision.",
        "right",
        "They select rules per tensor class and layer (src/llama-quant.cpp); only Q3_K has an L.",
        (nb("07", "Reading the name"), computed("variant_types")),
    ),
    Claim(
        "N5",
        "names",
        "Attention output and value projection layers are more sensitive to quantization errors than "
        "feed-forward weights",
        "partly right",
        "llama.cpp's rules single out attn_v and ffn_down, a feed-forward matrix; attn_output is promoted only "
        "in Q2_K, Q3_K_M and Q3_K_L (and in 8-expert models). Sensitivity depends on the model: on our character "
        "model ffn_up alone in Q4_K costs more KL (0.0009) than attn_v (0.0004) or attn_output (0.0003), and "
        "the token embedding far more (0.067).",
        (nb("07", "Reading the name"), nb("08", "Exercise")),
    ),
    Claim(
        "N6",
        "names",
        "the M variant promotes these layers to Q6_K (6-bit K-quant) while keeping the bulk of weights at Q4_K",
        "partly right",
        "Q4_K_M gives Q6_K to attn_v and ffn_down in 16 of 32 layers (use_more_bits: the first and last eighth "
        "and every third layer between) and to output.weight; attn_output stays Q4_K.",
        (computed("variant_types"), nb("07", "Reading the name")),
    ),
    Claim(
        "N7",
        "names",
        "The S (Small) variant keeps everything at 4 bits for maximum compression",
        "wrong",
        "Q4_K_S gives Q5_K to attn_v and ffn_down in the first four layers and Q6_K to output.weight: 4.58 "
        "bits per weight on Llama 2 7B.",
        (computed("variant_types"), nb("07", "Reading the name")),
    ),
    Claim(
        "N8",
        "names",
        "L (Large) is more conservative",
        "partly right",
        "Only Q3_K has an L variant (Q3_K_L: 4.27 bits per weight on Llama 2 7B, against Q3_K_M's 3.91); "
        "llama.cpp has no Q4_K_L or Q5_K_L. Files so named on model hubs carry their uploaders' own overrides.",
        (computed("variant_types"), nb("07", "Reading the name")),
    ),
    Claim(
        "N9",
        "names",
        "This per-layer precision mixing is why Q4_K_M consistently outperforms Q4_0",
        "partly right",
        "Q4_K_M beats Q4_0 in llama.cpp's published tables (Llama 3 8B: +0.175 against +0.469 perplexity), but "
        "mostly through the Q4_K format: Q4_K_S, Q4_K almost everywhere at about Q4_0's size, already has "
        "68 % of the gain; the mix's extra bits add 32 %. And not consistently: on our character model Q4_0 "
        "beats Q4_K_M (+4.9 % against +8.1 %).",
        (
            computed("q4_k_m_against_q4_0"),
            nb("07", NB07_TABLE),
            nb("08", "The quality table, measured"),
            cite(f"{PERPLEXITY_README}, LLaMA 3 8b Scoreboard"),
        ),
    ),
    Claim(
        "N10",
        "names",
        "despite the average bit-width being similar",
        "partly right",
        "Q4_K_M spends 0.3 bits per weight more than Q4_0: 4.84 against 4.54 on Llama 2 7B, 7 % more bytes.",
        (computed("q4_k_m_against_q4_0"), nb("07", NB07_TABLE)),
    ),
    Claim(
        "N11",
        "names",
        "The extra bits are spent where they matter most.",
        "partly right",
        "Where llama.cpp's authors found they matter on LLaMA-like models. On our character model the token "
        "embedding causes most of Q4_K_M's loss and the rules leave it at Q4_K; 0.03 bits per weight spent "
        "there cut the KL twenty-fold.",
        (nb("08", "Exercise"),),
    ),
    # --- quality ----------------------------------------------------------------------------------------
    Claim(
        "Q1",
        "quality",
        "Perplexity on the WikiText-2 dataset is the standard benchmark for comparing quantization quality.",
        "partly right",
        "It is llama.cpp's convention (Wikitext-2 test set, context 512), and its README warns that perplexity "
        "is not directly comparable between models. For small differences the KL divergence to the "
        "unquantized model is the more sensitive measure: perplexity changes cancel, KL never does.",
        (cite(PERPLEXITY_README), nb("08", "Perplexity and KL divergence, per character")),
    ),
    Claim(
        "Q2",
        "quality",
        "Lower is better.",
        "right",
        "Perplexity is exp of the mean negative log-likelihood of the true next token.",
        (nb("08", "Perplexity and KL divergence, per character"),),
    ),
    Claim(
        "Q3",
        "quality",
        "[table: bits per weight and size of F16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M for Llama 2 7B]",
        "right",
        "llama.cpp's rules and block sizes give 16.00, 8.50, 6.56, 5.68, 4.84 and 3.91 bits per weight, 13.48, "
        "7.16, 5.53, 4.78, 4.08 and 3.30 GB: the table's figures to its rounding, in GB (10⁹ bytes; Q4_K_M is "
        "3.80 GiB).",
        (computed("article_table_sizes"), nb("07", NB07_TABLE)),
    ),
    Claim(
        "Q4",
        "quality",
        "[table: Q2_K, 3.4 bits per weight, 2.9 GB]",
        "partly right",
        "That was the Q2_K of 2023 (3.35 bits in llama.cpp's quantize README); since PR #4897 (January 2024) "
        "Q2_K is 3.01 bits per weight and 2.53 GB on Llama 2 7B.",
        (computed("article_table_sizes"), nb("07", NB07_BPW), nb("07", NB07_TABLE)),
    ),
    Claim(
        "Q5",
        "quality",
        "[table: F16 perplexity ~5.25 (baseline) for Llama 2 7B]",
        "wrong",
        "Llama 2 7B's F16 perplexity in llama.cpp's table is 5.7946. 5.2543 is the first LLaMA 13B's F16 row "
        "in llama.cpp's old README, whose Q8_0 cell, 5.2548, is the article's ~5.26 too.",
        (
            computed("published_perplexity"),
            nb("07", NB07_TABLE),
            cite(f"{PERPLEXITY_README}, LLaMA 2 vs. LLaMA 3 Quantization comparison"),
            cite("README.md, quantization table, llama.cpp@75cd4c77 (vendored in llama-cpp-python 0.2.60)"),
        ),
    ),
    Claim(
        "Q6",
        "quality",
        "[table: perplexity Q8_0 ~5.26, Q6_K ~5.28, Q4_K_M ~5.40, Q2_K ~6.59]",
        "wrong",
        "Its increases over F16 are about twice llama.cpp's published Llama 2 7B ones: Q8_0 +0.01 against "
        "+0.004, Q6_K +0.03 against +0.014, Q4_K_M +0.15 against +0.083, Q2_K +1.34 against +0.626. The column "
        "is not a Llama 2 7B measurement.",
        (computed("published_perplexity"), nb("07", NB07_TABLE), nb("08", NB08_PUBLISHED)),
    ),
    Claim(
        "Q7",
        "quality",
        "Perplexity is an exponential measure, so the jump from Q4_K_M to Q2_K is much more dramatic than "
        "the raw numbers suggest.",
        "partly right",
        "Perplexity is exp(mean negative log-likelihood), so compare ratios: 6.59/5.40 = 1.22 is 0.20 nats of "
        "extra loss per token. Being exponential does not make raw perplexity differences understate a change. "
        "The drop to Q2_K is large all the same (Llama 3 8B: KL 0.445 against Q4_K_M's 0.031; our model +171 %).",
        (nb("08", "Perplexity and KL divergence, per character"), nb("08", NB08_PUBLISHED)),
    ),
    Claim(
        "Q8",
        "quality",
        "A perplexity of 5.40 vs 6.59 translates to noticeably worse output quality on open-ended generation tasks.",
        "partly right",
        "No generation evaluation is cited, and the two numbers are not Llama 2 7B's (above). Large increases "
        "do show in the text: our model's Q2_K (+171 %) writes near-gibberish; small ones need a KL measurement.",
        (nb("08", "The quality table, measured"),),
    ),
    Claim(
        "Q9",
        "quality",
        "Q8_0 and Q6_K are essentially lossless for practical purposes.",
        "right",
        "llama.cpp: +0.07 % and +0.24 % perplexity on Llama 2 7B (KL 0.0004 and 0.0021); our model +0.02 % and "
        "+0.22 %.",
        (nb("08", NB08_PUBLISHED),),
    ),
    Claim(
        "Q10",
        "quality",
        "a 3.3x memory reduction from F16",
        "right",
        "13.48 GB / 4.08 GB = 3.30 on Llama 2 7B.",
        (computed("article_table_sizes"), nb("07", NB07_TABLE)),
    ),
    Claim(
        "Q11",
        "quality",
        "Q4_K_M is the sweet spot for most use cases",
        "partly right",
        "On llama.cpp's measurements its loss is small (Llama 2 7B +1.4 %, Llama 3 8B +2.8 % perplexity, KL "
        "0.013 and 0.031) and Q3_K_M costs far more; but it depends on the model: on ours Q4_K_M costs +8.1 % "
        "and the last cheap step is Q5_K_S. That most users will not notice it in conversation is not measured.",
        (nb("08", NB08_PUBLISHED), nb("08", "The quality table, measured")),
    ),
    Claim(
        "Q12",
        "quality",
        "Q3_K_M is where degradation starts to become apparent on reasoning tasks.",
        "partly right",
        "Degradation is clearly measurable at Q3_K_M (Llama 3 8B: +10.5 % perplexity, KL 0.10, three times "
        "Q4_K_M's), and already at Q4_K_M on small models; the article cites no reasoning benchmark.",
        (cite(f"{PERPLEXITY_README}, LLaMA 3 8b Scoreboard"), nb("08", NB08_PUBLISHED)),
    ),
    Claim(
        "Q13",
        "quality",
        "Q2_K is useful only when memory is the hard constraint and quality is secondary.",
        "right",
        "Every measurement agrees: Llama 2 7B +10.8 %, Llama 3 8B +56 % perplexity (KL 0.45), our model +171 %.",
        (nb("08", NB08_PUBLISHED),),
    ),
    # --- methods ----------------------------------------------------------------------------------------
    Claim(
        "C1",
        "methods",
        "GGUF and llama.cpp are primarily designed for CPU inference (though GPU layers are supported).",
        "partly right",
        "llama.cpp's README gives its goal as inference on a wide range of hardware: CPUs (AVX, NEON), Apple "
        "Metal, custom CUDA kernels, HIP, Vulkan and SYCL, with CPU+GPU hybrid inference for models larger than "
        "the GPU's memory. It runs whole models on a GPU too.",
        (cite(f"README.md, Description and Supported backends, {LLAMA_CPP}"),),
    ),
    Claim(
        "C2",
        "methods",
        "For pure GPU inference, GPTQ and AWQ are more common.",
        "partly right",
        "A statement about popularity with no source. GPTQ and AWQ checkpoints are made for GPU kernels, but "
        "llama.cpp offloads whole GGUF models to CUDA, Metal or Vulkan as well.",
        (cite(f"README.md, Supported backends, {LLAMA_CPP}"),),
    ),
    Claim(
        "C3",
        "methods",
        "uses second-order gradient information (the Hessian of the loss with respect to weights)",
        "partly right",
        "The Hessian of each layer's output error on calibration inputs, ‖WX − ŴX‖², which is exactly "
        "H = 2XXᵀ; not of the model's loss.",
        (nb("09", NB09_OBJECTIVE), nb("09", "FAQ"), cite(f"{GPTQ}, abstract")),
    ),
    Claim(
        "C4",
        "methods",
        "it adjusts the remaining weights in the row to reduce the total error",
        "right",
        "After rounding each column, GPTQ updates the columns not yet rounded, in every row at once, through "
        "H⁻¹ (the optimal-brain-surgeon update); each weight itself is still rounded to its nearest level.",
        (nb("09", "GPTQ: round one column, push its error into the columns left"),),
    ),
    Claim(
        "C5",
        "methods",
        "This makes it more accurate than post-hoc group quantization at equivalent bit widths",
        "right",
        "On one layer of our model GPTQ's output error is a quarter of round-to-nearest's at the same 4 and 3 "
        "bits; on the whole model INT3 GPTQ's KL is 0.0036 against 0.035. GPTQ's abstract: 3 or 4 bits with "
        "negligible accuracy degradation on models of up to 175B parameters.",
        (nb("09", "The table: every method on this layer"), cite(f"{GPTQ}, abstract")),
    ),
    Claim(
        "C6",
        "methods",
        "at the cost of a slower quantization process",
        "right",
        "A fraction of a second per layer here against milliseconds for round-to-nearest; about four GPU hours "
        "for a 175B-parameter model (GPTQ's abstract).",
        (nb("09", "The table: every method on this layer"), cite(f"{GPTQ}, abstract")),
    ),
    Claim(
        "C7",
        "methods",
        "it identifies the 1% of weight channels that are most important based on activation patterns, then "
        "scales those channels up before quantization",
        "partly right",
        "The 1 % is AWQ's motivating observation (protecting 1 % of salient weights greatly reduces the error, "
        "abstract); the method scales every input channel, by s_j = mean|x_j|^α with α searched on a grid "
        "0 … 0.95, so the channels with large activations are scaled up most.",
        (nb("09", "AWQ: scale up the channels that matter, then round"), cite(f"{AWQ}, abstract")),
    ),
    Claim(
        "C8",
        "methods",
        "The scaling is mathematically equivalent to scaling the corresponding activation down, so the model "
        "output is preserved",
        "right",
        "Before rounding, W·diag(s) applied to x/s is the same layer, and the division folds into the previous "
        "norm or linear layer. Only the rounding of W·diag(s) changes the output, which is the point.",
        (computed("awq_equivalence"), nb("09", "AWQ: scale up the channels that matter, then round")),
    ),
    Claim(
        "C9",
        "methods",
        "Both produce models that can be loaded with libraries like bitsandbytes or AutoGPTQ",
        "partly right",
        "GPTQ checkpoints load with GPTQ libraries (AutoGPTQ, GPTQModel) and AWQ ones with AWQ libraries; "
        "bitsandbytes is a different method that quantizes on the fly, without calibration (LLM.int8(), NF4).",
        (cite("Hugging Face Transformers documentation, Quantization: Selecting a quantization method"),),
    ),
    Claim(
        "C10",
        "methods",
        "GPTQ and AWQ require a calibration dataset",
        "right",
        "So does llama.cpp's importance matrix (llama-imatrix): IQ2_XXS, IQ2_XS and IQ1_S refuse to quantize "
        "without one, and in llama.cpp's own measurements it helps the K-quants and legacy types on large models "
        "(PR #4930, #4969).",
        (nb("09", "Published numbers beside ours"), nb("13", "Bits per weight, from the layout")),
    ),
    Claim(
        "C11",
        "methods",
        "take hours to quantize a model",
        "partly right",
        "Hours for the largest models: about four GPU hours for 175B parameters (GPTQ's abstract); the time "
        "grows with the model. On our small model GPTQ and AWQ take seconds.",
        (cite(f"{GPTQ}, abstract"), nb("09", "The table: every method on this layer")),
    ),
    Claim(
        "C12",
        "methods",
        "while GGUF quantization from a float16 source takes minutes",
        "partly right",
        "Minutes for llama-quantize itself, but the comparison leaves out that GGUF's importance matrix is a "
        "calibration pass too: about 10 minutes for a 7B model on a 32-core CPU (llama.cpp PR #4861), required "
        "by the lowest-bit IQ types.",
        (nb("09", "Published numbers beside ours"), nb("13", "Bits per weight, from the layout")),
    ),
    # --- takeaway ---------------------------------------------------------------------------------------
    Claim(
        "T1",
        "takeaway",
        "Q4_K_M is the right default for most 7B to 13B models.",
        "partly right",
        "A reasonable default on llama.cpp's LLaMA measurements, not a rule: sensitivity depends on the model, "
        "and the best mix is the largest that fits together with its KV cache.",
        (nb("07", "The calculator: what fits, and at what quality"), nb("08", NB08_PUBLISHED)),
    ),
    Claim(
        "T2",
        "takeaway",
        "You get a model that fits in 4 to 6 GB of RAM",
        "partly right",
        "Llama 2 7B in Q4_K_M: 4.08 GB of weights (3.80 GiB). Llama 2 13B: 7.87 GB, outside the range before any "
        "KV cache (4,096 tokens of F16 cache add 3.1 GiB more).",
        (computed("q4_k_m_fits"), nb("07", "The calculator: what fits, and at what quality")),
    ),
    Claim(
        "T3",
        "takeaway",
        "produces output that is subjectively indistinguishable from the float16 original on most tasks",
        "partly right",
        "Not measured in the article. Token for token, outputs do differ: even Q8_0's small rounding, added to "
        "Gemma 3 270M's Q4_K_M weights, changes its greedy completions after 3 to 10 words on two of three "
        "prompts (notebook 11). On Llama models the measured loss is small but not zero: KL 0.013 (Llama 2 7B) "
        "and 0.031 (Llama 3 8B).",
        (nb("11", "Gemma 3 270M, rewritten into other mixes"), nb("08", NB08_PUBLISHED)),
    ),
    Claim(
        "T4",
        "takeaway",
        "the additional precision in the K-quant codebook makes a measurable difference",
        "partly right",
        "Q5_K_M is measurably closer to F16 (Llama 3 8B: +0.91 % against +2.82 % perplexity, KL 0.011 against "
        "0.031), but there is no K-quant codebook (5-bit codes on a uniform grid), and the article cites no "
        "reasoning or math evaluation.",
        (nb("08", NB08_PUBLISHED), nb("06", NB06_KQUANTS)),
    ),
    Claim(
        "T5",
        "takeaway",
        "The naming encodes specific engineering decisions about where precision matters and where it can be "
        "sacrificed.",
        "right",
        "A mix name selects llama.cpp's per-tensor rules (src/llama-quant.cpp); restated in quantlab, they "
        "predict all 236 tensor types of a real Q4_K_M file.",
        (nb("07", "A real file: Gemma 3 270M in Q4_K_M"),),
    ),
)


def claim(claim_id):
    """The claim with this id ("O5"); a ValueError naming the ids if there is none."""
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    raise ValueError(f"claim_id={claim_id!r} is not a claim; ids are {', '.join(c.id for c in CLAIMS)}")


def by_topic(topic):
    """The claims of one topic (a key of TOPICS), in the article's order."""
    if topic not in TOPICS:
        raise ValueError(f"topic={topic!r} is not a topic; choose one of {', '.join(TOPICS)}")
    return [c for c in CLAIMS if c.topic == topic]
