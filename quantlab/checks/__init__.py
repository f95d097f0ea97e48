"""The exercises' self-checks: each says whether an answer is right and, if not, which mistake it looks like.

Every check is reachable as quantlab.checks.check_<name>; one module per topic, verdicts in base.
"""

from .activations import check_smoothing_scale
from .base import NOT_ANSWERED, Verdict
from .basics import check_bits_per_weight, check_fake_quantize, check_largest_fp16, check_memory, check_outlier_mse
from .calibration import check_awq_alpha
from .claims import check_outlier_step
from .codebook import check_codebook_bits_per_weight, check_lloyd_step
from .formats import check_iq2_xxs_bits
from .gguf import check_dequantize_q4_k
from .mixes import check_largest_fit
from .quality import check_beat_q4_k_m
from .runtime import check_small_faithful_file

__all__ = ["NOT_ANSWERED", "Verdict", *sorted(name for name in dir() if name.startswith("check_"))]
