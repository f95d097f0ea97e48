"""Input checks shared by the quantizers: turn bad input into an error that says how to fix it."""

import numpy as np


def as_float_array(w, name="w"):
    """Return `w` as a float32/float64 array, refusing NaN, inf, empty and non-numeric input.

    Integer and bool arrays are refused rather than converted: quantizing integer data is almost
    always a mistake (codes passed where weights were meant), and saying so teaches more.
    """
    array = np.asarray(w)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} has dtype {array.dtype}; pass an array of floats, e.g. np.asarray({name}, dtype=np.float32)"
        )
    if array.dtype.kind != "f":
        raise TypeError(
            f"{name} has integer/bool dtype {array.dtype}; quantization takes real-valued weights — "
            f"convert explicitly with {name}.astype(np.float32) if that is what you mean"
        )
    if array.dtype == np.float16:  # compute in float32: float16 arithmetic would round the scale
        array = array.astype(np.float32)
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one weight")
    if not _all_finite(array):
        finite = np.isfinite(array)
        index = np.unravel_index(np.argmin(finite), array.shape)
        where = int(index[0]) if array.ndim == 1 else tuple(int(i) for i in index)
        raise ValueError(
            f"{name} contains {array[index]} at index {where} "
            f"({np.count_nonzero(~finite)} non-finite values); quantization needs finite weights — "
            f"replace them, e.g. np.nan_to_num({name})"
        )
    return array


def _all_finite(array):
    """Whether every value of a float array is finite, usually in one read of the array.

    The dot product of the values with themselves is finite exactly when they all are (NaN and
    inf propagate), unless the sum of squares overflows; only then, or for an array that is not
    contiguous, the elementwise test runs (it also writes a mask, so it costs about 1.5x more).
    """
    if array.flags.c_contiguous or array.flags.f_contiguous:
        flat = array.ravel(order="K")  # a view
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.dot(flat, flat)):
                return True
    return bool(np.isfinite(array).all())


def check_bits(bits, low=1, high=8):
    """Check that `bits` is an integer in [low, high]."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits must be an integer between {low} and {high}, got {bits!r}")
    if not low <= bits <= high:
        raise ValueError(f"bits={bits} is out of range; choose an integer from {low} to {high}")
    return int(bits)


def check_axis(axis, ndim, name="axis"):
    """Normalise a possibly negative axis, with a clear error when it does not exist."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} must be an integer or None, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}={axis} is out of range for an array with {ndim} dimension(s); use 0..{ndim - 1} or -1"
        )
    return int(axis) % ndim


def divisors_near(n, target):
    """The divisors of n closest to `target`, for suggesting a group size that works."""
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    return sorted(divisors, key=lambda d: (abs(d - target), d))[:3]


def check_group_size(group_size, length, axis):
    """Check that `group_size` is a positive integer dividing the length of the grouped axis."""
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise TypeError(f"group_size must be a positive integer or None, got {group_size!r}")
    if group_size < 1:
        raise ValueError(f"group_size={group_size} must be at least 1")
    if length % group_size:
        suggestions = ", ".join(str(d) for d in divisors_near(length, group_size))
        raise ValueError(
            f"group_size={group_size} does not divide the {length} weights along axis {axis}; "
            f"pad the weights or pick a divisor such as {suggestions}"
        )
    return int(group_size)
