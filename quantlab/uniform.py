"""Round-to-nearest on a uniform grid: symmetric or asymmetric, per tensor, per channel or per group.

Every quantizer here follows the same rhythm: range -> scale (and zero point) -> round -> clamp.
Dequantizing multiplies back: w_hat = scale * (code - zero_point).
"""

from dataclasses import dataclass

import numpy as np

from ._validate import as_float_array, check_axis, check_bits, check_group_size
from .floats import float_format, round_to_format
from .metrics import mse

SCHEMES = ("symmetric", "asymmetric")
SYMMETRIC_RANGES = ("restricted", "full")


def code_range(bits, scheme="symmetric", symmetric_range="restricted"):
    """The integer codes a scheme may use, as (lowest, highest).

    symmetric, restricted: -(2^(b-1) - 1) .. 2^(b-1) - 1, e.g. -7..7 at 4 bits (15 levels, mirror-symmetric)
    symmetric, full:       -2^(b-1) .. 2^(b-1) - 1,       e.g. -8..7 at 4 bits (16 levels, as GGML's Q4_0)
    asymmetric:            0 .. 2^b - 1,                  e.g.  0..15 at 4 bits, shifted by a zero point
    """
    if scheme == "asymmetric":
        return 0, 2**bits - 1
    if symmetric_range == "full":
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """Integer codes plus the scale(s) and zero point(s) needed to turn them back into weights.

    `scale` (and `zero_point`) have the weights' shape with the grouped axis shrunk to the number of
    groups, or shape () for one scale per tensor. Scales are stored already rounded to `scale_dtype`.
    """

    codes: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray | None
    bits: int
    scheme: str
    symmetric_range: str
    group_size: int
    axis: int | None
    scale_dtype: str
    zero_point_bits: int
    dtype: np.dtype

    @property
    def shape(self):
        return self.codes.shape

    @property
    def code_range(self):
        return code_range(self.bits, self.scheme, self.symmetric_range)

    @property
    def n_groups(self):
        return int(np.size(self.scale))

    def _expand(self, per_group):
        """Repeat a per-group array so it lines up with every weight."""
        if self.axis is None:
            return per_group
        return np.repeat(per_group, self.group_size, axis=self.axis)

    def dequantize(self):
        """w_hat = scale * (code - zero_point), in the weights' float dtype."""
        codes = self.codes.astype(np.float64)
        if self.zero_point is not None:
            codes = codes - self._expand(self.zero_point)
        return (self._expand(self.scale.astype(np.float64)) * codes).astype(self.dtype)

    def requantize(self, w):
        """Round new weights onto this tensor's grid (same scales and zero points): the codes they get."""
        w = as_float_array(w, "w").astype(np.float64)
        if w.shape != self.shape:
            raise ValueError(f"w has shape {w.shape}, but this grid was built for shape {self.shape}")
        low, high = self.code_range
        codes = np.rint(_safe_divide(w, self._expand(self.scale.astype(np.float64))))
        if self.zero_point is not None:
            codes = codes + self._expand(self.zero_point)
        return np.clip(codes, low, high).astype(self.codes.dtype)

    def levels(self):
        """Every value a group can represent: shape scale.shape + (number of levels,)."""
        low, high = self.code_range
        codes = np.arange(low, high + 1, dtype=np.float64)
        offset = 0.0 if self.zero_point is None else self.zero_point[..., None]
        return self.scale.astype(np.float64)[..., None] * (codes - offset)

    def clipping_range(self):
        """Per group, the (lowest, highest) representable value: inside it error <= step / 2."""
        levels = self.levels()
        return levels.min(axis=-1), levels.max(axis=-1)

    @property
    def step(self):
        """Distance between neighbouring levels, per group (|scale|)."""
        return np.abs(self.scale.astype(np.float64))

    def storage_bits(self):
        """Bits stored for codes, scales and zero points, each at its storage precision."""
        return {
            "codes": self.codes.size * self.bits,
            "scales": self.n_groups * float_format(self.scale_dtype).bits,
            "zero_points": 0 if self.zero_point is None else self.n_groups * self.zero_point_bits,
        }

    @property
    def bits_per_weight(self):
        """Everything stored, divided by the number of weights: bits + overhead of scales and zero points."""
        return sum(self.storage_bits().values()) / self.codes.size


def _grouped(w, axis, group_size):
    """View weights as (..., n_groups, group_size) with the grouped axis last."""
    if axis is None:
        return w.reshape(1, -1)
    moved = np.moveaxis(w, axis, -1)
    return moved.reshape(*moved.shape[:-1], -1, group_size)


def _ungrouped(per_group, axis):
    """Put a per-group result (..., n_groups) back with the groups along `axis`."""
    if axis is None:
        return per_group.reshape(())
    return np.moveaxis(per_group, -1, axis)


def _safe_divide(w, scale):
    """w / scale, with 0 where the scale is 0 (an all-zero group): no division by zero."""
    safe = np.where(scale == 0, 1.0, scale)
    return np.where(scale == 0, 0.0, w / safe)


def _store_scale(scale, scale_dtype):
    """Round scales to their storage format, refusing ones the format cannot hold."""
    stored = round_to_format(scale, scale_dtype).astype(np.float64)
    if not np.isfinite(stored).all():
        biggest = float(np.max(np.abs(scale)))
        raise ValueError(
            f"a scale of {biggest:.3g} overflows scale_dtype={scale_dtype!r} "
            f"(max {float_format(scale_dtype).max:.6g}); use scale_dtype='float32' or smaller weights"
        )
    return stored


def quantize(
    w,
    bits=4,
    scheme="symmetric",
    group_size=None,
    axis=None,
    *,
    symmetric_range="restricted",
    clip_ratio=1.0,
    scale_dtype="float32",
    zero_point_bits=None,
):
    """Quantize weights to `bits`-bit integers on a uniform grid, one scale per tensor, channel or group.

    - per tensor: axis=None, group_size=None (one scale for everything)
    - per channel: axis=k (one scale per slice along axis k, i.e. group_size = w.shape[k])
    - per group: group_size=g (contiguous groups of g along `axis`, default the last axis)
    `clip_ratio` < 1 shrinks the range before choosing the scale (trading clipped outliers for a
    finer grid). Scales are rounded to `scale_dtype` ('float32', 'float16' or 'bfloat16') before
    rounding the weights, as real formats do. Zero points are integers stored in `zero_point_bits`
    (default: `bits`). Rounding is to nearest, ties to even (numpy's rint).
    """
    w = as_float_array(w, "w")
    bits = check_bits(bits)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r} is not known; choose 'symmetric' or 'asymmetric'")
    if symmetric_range not in SYMMETRIC_RANGES:
        raise ValueError(f"symmetric_range={symmetric_range!r} is not known; choose 'restricted' or 'full'")
    if scheme == "symmetric" and symmetric_range == "restricted" and bits == 1:
        raise ValueError(
            "bits=1 with a restricted symmetric range leaves only the level 0; "
            "use symmetric_range='full' (levels -1, 0) or scheme='asymmetric'"
        )
    if not (isinstance(clip_ratio, (int, float, np.floating)) and 0 < clip_ratio <= 1):
        raise ValueError(f"clip_ratio={clip_ratio!r} must be a number in (0, 1]; 1 means no clipping")
    float_format(scale_dtype)  # raises for unknown names
    zero_point_bits = bits if zero_point_bits is None else check_bits(zero_point_bits, 1, 32)

    if group_size is not None and axis is None:
        axis = -1
    if axis is not None:
        axis = check_axis(axis, w.ndim)
        length = w.shape[axis]
        group_size = length if group_size is None else check_group_size(group_size, length, axis)
    else:
        group_size = w.size

    groups = _grouped(w.astype(np.float64), axis, group_size)
    low, high = code_range(bits, scheme, symmetric_range)
    if scheme == "symmetric":
        if symmetric_range == "restricted":
            scale = np.abs(groups).max(axis=-1) * clip_ratio / high
        else:  # the signed extreme lands exactly on the lowest code, as in GGML's Q4_0 (d = max / -8)
            extreme = np.take_along_axis(groups, np.abs(groups).argmax(axis=-1)[..., None], axis=-1)[..., 0]
            scale = extreme * clip_ratio / low
        scale = _store_scale(scale, scale_dtype)
        codes = np.clip(np.rint(_safe_divide(groups, scale[..., None])), low, high)
        zero_point = None
    else:  # the range always includes 0, so that 0 is exactly representable
        lowest = np.minimum(groups.min(axis=-1), 0.0) * clip_ratio
        highest = np.maximum(groups.max(axis=-1), 0.0) * clip_ratio
        scale = _store_scale((highest - lowest) / high, scale_dtype)
        zero_point = np.clip(np.rint(_safe_divide(-lowest, scale)), low, high)
        codes = np.clip(np.rint(_safe_divide(groups, scale[..., None])) + zero_point[..., None], low, high)

    code_dtype = np.int8 if low < 0 else np.uint8
    codes = codes.reshape(np.moveaxis(w, axis, -1).shape if axis is not None else w.shape)
    if axis is not None:
        codes = np.moveaxis(codes, -1, axis)
    return QuantizedTensor(
        codes=codes.astype(code_dtype),
        scale=_ungrouped(scale, axis),
        zero_point=None if zero_point is None else _ungrouped(zero_point, axis).astype(np.int32),
        bits=bits,
        scheme=scheme,
        symmetric_range=symmetric_range,
        group_size=group_size,
        axis=axis,
        scale_dtype=scale_dtype,
        zero_point_bits=zero_point_bits,
        dtype=w.dtype,
    )


def snap_to_levels(x, levels):
    """Map each x to the nearest of the sorted `levels` (clamping outside them): any grid's transfer function."""
    levels = np.sort(np.ravel(levels))
    midpoints = (levels[1:] + levels[:-1]) / 2
    return levels[np.searchsorted(midpoints, x)]


def dequantize(quantized):
    """Turn a QuantizedTensor back into weights (same as quantized.dequantize())."""
    if not isinstance(quantized, QuantizedTensor):
        raise TypeError(f"dequantize takes the result of quantlab.quantize(...), got {type(quantized).__name__}")
    return quantized.dequantize()


def fake_quantize(w, bits=4, scheme="symmetric", group_size=None, axis=None, **options):
    """Quantize and immediately dequantize: the weights a quantized model actually computes with."""
    return quantize(w, bits, scheme, group_size, axis, **options).dequantize()


def describe(w, q):
    """Text: a quantized vector's scale (and zero point), its codes, what they dequantize to, and the MSE."""
    zero = "" if q.zero_point is None else f"  zero point {int(np.ravel(q.zero_point)[0])}"
    w_hat = q.dequantize()
    return "\n".join(
        [
            f"{q.scheme:<11} scale {float(np.ravel(q.scale)[0]):.5f}{zero}",
            f"  codes {q.codes.tolist()}",
            f"  w_hat {[round(float(v), 3) for v in w_hat]}",
            f"  MSE   {mse(w, w_hat):.2e}",
        ]
    )
