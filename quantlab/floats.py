"""Floating-point formats: fp32, fp16 and bf16 bit layouts, and rounding a float32 to each.

Storing a scale "in fp16" means rounding it to the nearest fp16 number; these functions make that
rounding explicit so quantizers can count (and show) its effect.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-754-style binary format: 1 sign bit, `exponent_bits`, `mantissa_bits`."""

    name: str
    exponent_bits: int
    mantissa_bits: int

    @property
    def bits(self):
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def bias(self):
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def max(self):
        """Largest finite value: (2 - 2^-m) * 2^bias."""
        return (2 - 2.0**-self.mantissa_bits) * 2.0**self.bias

    @property
    def smallest_normal(self):
        return 2.0 ** (1 - self.bias)

    @property
    def smallest_subnormal(self):
        return 2.0 ** (1 - self.bias - self.mantissa_bits)

    @property
    def epsilon(self):
        """Gap between 1 and the next representable number: relative precision."""
        return 2.0**-self.mantissa_bits


FP32 = FloatFormat("fp32", 8, 23)
FP16 = FloatFormat("fp16", 5, 10)
BF16 = FloatFormat("bf16", 8, 7)
FORMATS = {f.name: f for f in (FP32, FP16, BF16)}
_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}


def float_format(name):
    """Look up a format by name ('fp32', 'float16', 'bf16', ...)."""
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in FORMATS:
        raise ValueError(f"unknown float format {name!r}; choose one of {sorted(FORMATS) + sorted(_ALIASES)}")
    return FORMATS[key]


def round_to_bfloat16(x):
    """Round float32 values to the nearest bf16 (ties to even), returned as float32.

    bf16 is the top 16 bits of a float32, so rounding is integer arithmetic on the bit pattern.
    """
    x = np.asarray(x, dtype=np.float32)
    bits = x.view(np.uint32).astype(np.uint64)  # 64 bits: room for the carry out of bit 31
    # Typed constants: numpy 1.x turns uint64 (op) Python int into float64 on a 0-d input, and shifts refuse floats.
    half, one, sixteen = np.uint64(0x7FFF), np.uint64(1), np.uint64(16)
    lsb = (bits >> sixteen) & one
    rounded = ((bits + half + lsb) >> sixteen) << sixteen
    rounded = np.where(np.isnan(x), bits | np.uint64(0x400000), rounded)  # keep NaN a NaN
    return rounded.astype(np.uint32).view(np.float32)


def round_to_format(x, name):
    """Round values to the named storage format and return them as float32 (or float64 for fp64)."""
    fmt = float_format(name)
    x = np.asarray(x, dtype=np.float64)
    if fmt is FP32:
        return x.astype(np.float32)
    if fmt is FP16:
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(np.float32)
    return round_to_bfloat16(x.astype(np.float32))


def bit_fields(value, name="fp32"):
    """Split one number into its sign, exponent and mantissa bit strings in the named format.

    Returns a dict with the bit strings, the stored value (after rounding to the format) and the
    decoded parts, so a learner can check sign * 2^(exponent - bias) * 1.mantissa by hand.
    """
    fmt = float_format(name)
    stored = float(round_to_format(value, fmt.name))
    if fmt is FP16:
        raw = int(np.float16(stored).view(np.uint16))
    else:
        raw = int(np.float32(stored).view(np.uint32)) >> (32 - fmt.bits)
    pattern = format(raw, f"0{fmt.bits}b")
    sign, exponent, mantissa = pattern[0], pattern[1 : 1 + fmt.exponent_bits], pattern[1 + fmt.exponent_bits :]
    exponent_value = int(exponent, 2)
    subnormal = exponent_value == 0
    return {
        "format": fmt.name,
        "value": float(value),
        "stored": stored,
        "error": stored - float(value),
        "bits": pattern,
        "sign": sign,
        "exponent": exponent,
        "mantissa": mantissa,
        "unbiased_exponent": (1 - fmt.bias) if subnormal else exponent_value - fmt.bias,
        "subnormal": subnormal,
    }


def relative_rounding_error(x, name):
    """|stored - x| / |x| for each x after rounding to the named format (inf where it overflows)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        stored = round_to_format(x, name).astype(np.float64)
        return np.where(np.isfinite(stored), np.abs(stored - x) / np.abs(x), np.inf)
