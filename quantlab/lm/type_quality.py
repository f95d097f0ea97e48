"""One GGML type for every matrix of the character model's blocks: the newer types beside the K-quants, measured alike.

llama.cpp's mixes (quantlab.lm.quality) give each tensor its own type; to compare *types* instead,
every 2-D blk.* tensor is stored in one type and token_embd, output and the norms stay F32:

    meter = TypeMeter(imatrix=importance)    # F32 reference on the held-out text; importance: {name: vector}
    meter.measure("IQ2_XXS", with_imatrix=True)   # TypeQuality: bits, bytes, perplexity, KL, fingerprint

With an importance matrix (quantlab.calibration.imatrix.for_char_lm) where the type reads one: both
ways where llama.cpp allows both, only with one where it requires one (IQ2_XXS, IQ2_XS, IQ1_S),
never where it ignores it. The committed rows are in quantlab/assets/new_formats_quality.json
(benchmarks/new_formats_quality.py --write); "the same result" is quality.row_differences' rule.
"""

import json
from dataclasses import asdict, dataclass

import numpy as np

from .. import ggml
from ..ggml.formats_tour import NEW_TYPES, QUALITY_ASSET, imatrix_use
from .evaluation import evaluate
from .quality import QualityMeter, TensorCache

REFERENCE_TYPES = ("Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q4_0", "Q3_K", "Q2_K")  # the older types, for comparison
TYPES = (*NEW_TYPES, *REFERENCE_TYPES)
IMATRIX_VARIANTS = {"ignored": (False,), "optional": (False, True), "required": (True,)}


def imatrix_variants(type_name):
    """(False,), (False, True) or (True,): the rows a type gets, without and/or with an importance matrix."""
    return IMATRIX_VARIANTS[imatrix_use(type_name)]


def block_plan(shapes, type_name):
    """{tensor name: type}: every 2-D blk.* tensor in `type_name`, everything else (embedding, output, norms) F32."""
    name = ggml.format_info(type_name).name
    return {t: name if t.startswith("blk.") and len(shape) == 2 else "F32" for t, shape in shapes.items()}


@dataclass(frozen=True)
class TypeQuality:
    """The character model with its block matrices in one type, scored on one text against F32."""

    type: str
    imatrix: bool
    n_weights: int  # every weight of the model
    n_bytes: int  # every tensor as stored: the blocks' bytes, embedding, output and norms at 4 bytes a weight
    perplexity: float  # per character
    mean_nll: float  # nats per character
    kl_divergence: float  # mean KL(F32 || quantized) per character, nats
    reference_perplexity: float
    n_predictions: int
    sha256: str  # of every tensor's bytes, in name order (quality.TensorCache.apply)

    @property
    def bits_per_weight(self):
        """The type's own bits per weight (its block layout)."""
        return ggml.format_info(self.type).bits_per_weight

    @property
    def relative_increase(self):
        """perplexity / F32 perplexity - 1."""
        return self.perplexity / self.reference_perplexity - 1

    def record(self):
        return asdict(self)


class TypeMeter:
    """Scores one type at a time on one text; the F32 logits are computed once, each tensor quantized once.

    imatrix: {tensor name: importance vector} for the rows measured with_imatrix=True.
    """

    def __init__(self, model=None, text=None, imatrix=None):
        self.meter = QualityMeter(model, text)
        self.weighted = None if imatrix is None else TensorCache(self.meter.model, imatrix)

    def measure(self, type_name, with_imatrix=False):
        """TypeQuality of the model with every block matrix in `type_name` (quantized with the imatrix if asked)."""
        name = ggml.format_info(type_name).name
        if with_imatrix not in imatrix_variants(name):
            use = imatrix_use(name)
            raise ValueError(
                f"{name} {'requires' if use == 'required' else 'ignores'} an importance matrix (llama.cpp's "
                f"quantizer); measure it with with_imatrix={use == 'required'}"
            )
        if with_imatrix and self.weighted is None:
            raise ValueError("with_imatrix=True needs TypeMeter(imatrix={tensor name: importance vector})")
        cache = self.weighted if with_imatrix else self.meter.tensors
        model, n_bytes, fingerprint = cache.apply(block_plan(self.meter.shapes, name))
        reference = self.meter.reference
        result = evaluate(model, self.meter.text, self.meter.stride, reference_logits=reference.logits)
        return TypeQuality(
            name,
            bool(with_imatrix),
            self.meter.n_weights,
            n_bytes,
            result.perplexity,
            result.mean_nll,
            result.kl_divergence,
            reference.perplexity,
            result.n_predictions,
            fingerprint,
        )


# --- the committed rows -----------------------------------------------------------------------------------


def load_rows(path=QUALITY_ASSET):
    """(TypeQuality rows of the committed table, the versions they were measured with)."""
    table = json.loads(path.read_text(encoding="utf-8"))["char_lm"]
    fields = TypeQuality.__dataclass_fields__
    return [TypeQuality(**{key: row[key] for key in fields}) for row in table["rows"]], table["versions"]


def minilm_rows(path=QUALITY_ASSET):
    """{(type, with imatrix): MiniLM row} of the committed table (mean and min cosine to FP32)."""
    rows = json.loads(path.read_text(encoding="utf-8"))["minilm"]["rows"]
    return {(row["type"], row["imatrix"]): row for row in rows}


def fixed_or_first_digit(value, decimals, sign=False):
    """value with `decimals` decimals, or only its first digit when it would round to zero: a tiny change reads as
    what it is (-6e-04, 2e-06) instead of a zero, or a signed zero (-0.00)."""
    plus = "+" if sign else ""
    if value == 0 or abs(value) >= 0.5 * 10.0**-decimals:
        return f"{value:{plus}.{decimals}f}"
    return f"{value:{plus}.0e}"


def rows_text(rows=None, minilm=None):
    """The rows as text, most bits first: type, imatrix, bits/weight, model size, perplexity, its change, KL, MiniLM."""
    rows = load_rows()[0] if rows is None else rows
    minilm = minilm_rows() if minilm is None else minilm
    lines = [
        f"{'type':<8}{'imatrix':>8}{'bits/w':>8}{'size kB':>9}{'perplexity':>11}{'Δppl %':>9}{'KL':>9}{'MiniLM cos':>12}"
    ]
    for row in sorted(rows, key=lambda r: (-r.bits_per_weight, r.type, r.imatrix)):
        cosine = minilm.get((row.type, row.imatrix), {}).get("mean_cosine", np.nan)
        lines.append(
            f"{row.type:<8}{'yes' if row.imatrix else 'no':>8}{row.bits_per_weight:>8.4g}{row.n_bytes / 1000:>9.0f}"
            f"{row.perplexity:>11.4f}{fixed_or_first_digit(100 * row.relative_increase, 2, sign=True):>9}"
            f"{fixed_or_first_digit(row.kl_divergence, 4):>9}{cosine:>12.4f}"
        )
    lines.append(f"F32: perplexity {rows[0].reference_perplexity:.4f}, {4 * rows[0].n_weights / 1000:.0f} kB")
    return "\n".join(lines)
