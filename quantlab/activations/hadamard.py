"""Random Hadamard rotations as QuaRot applies them: x -> x Q and W -> W Q, so (x Q)(W Q)^T = x W^T.

    Q = diag(signs) H^T / sqrt(n)        signs: random +-1; H: an n x n Hadamard matrix (entries +-1, H H^T = n I)
Q is orthogonal, so the product is unchanged; a channel that was large in every token is spread
over all n channels (its size divided by about sqrt(n)), which makes x and W easier to quantize.

Widths: n = 2^k uses Sylvester's H (the Walsh-Hadamard matrix); n = 12 * 2^k uses H_12 (x) H_2^k, the
Kronecker product QuaRot uses for widths that are not powers of two. MiniLM's 384 = 12 * 32 and
1536 = 12 * 128 are covered; other widths are refused (pad to a supported width, or rotate blocks).
The textbook fast transform costs O(n log n) per row: log2(n) butterfly stages (walsh_hadamard_butterfly).
walsh_hadamard uses the same Kronecker structure another way, H_2^k = H_a (x) H_b with a b = 2^k: each
row reshaped to (12, a, b) is multiplied by three small matrices, O(n (12 + a + b)) multiply-adds done by
BLAS, which in numpy is ten times faster than the butterfly's log2(n) passes over memory.
"""

from dataclasses import dataclass

import numpy as np

from .base import as_float_array, as_matrix


def _paley_12():
    """H_12 by Paley's first construction (q = 11, prime, 3 mod 4): from the quadratic residues mod 11."""
    q = 11
    residues = {(i * i) % q for i in range(1, q)}
    chi = np.array([0] + [1 if d in residues else -1 for d in range(1, q)])
    jacobsthal = chi[(np.arange(q)[None, :] - np.arange(q)[:, None]) % q]  # Q[i, j] = chi(j - i)
    core = np.zeros((q + 1, q + 1), dtype=np.int64)
    core[0, 1:], core[1:, 0], core[1:, 1:] = 1, -1, jacobsthal
    return core + np.eye(q + 1, dtype=np.int64)


H12 = _paley_12()


def split_width(n):
    """(small, power): n = small * power with small in {1, 12} and power = 2^k; ValueError otherwise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"width={n!r} must be a positive integer")
    for small in (1, 12):
        power = n // small
        if n % small == 0 and power & (power - 1) == 0 and power >= 1:
            return small, int(power)
    padded = min(small * 2 ** int(np.ceil(np.log2(n / small))) for small in (1, 12) if n > small) if n > 1 else 1
    raise ValueError(
        f"width {n} is neither a power of two nor 12 x a power of two, the widths this Hadamard "
        f"transform supports; pad the features with zeros to {padded} (zero features change no "
        f"product) or rotate blocks of a supported width separately"
    )


def hadamard_matrix(n):
    """The explicit n x n Hadamard matrix (entries +-1): Sylvester's for 2^k, H_12 (x) Sylvester for 12 * 2^k."""
    small, power = split_width(n)
    sylvester = np.ones((1, 1), dtype=np.int64)
    while sylvester.shape[0] < power:
        sylvester = np.block([[sylvester, sylvester], [sylvester, -sylvester]])
    return sylvester if small == 1 else np.kron(H12, sylvester)


def walsh_hadamard(x, transpose=False):
    """x @ H.T / sqrt(n) along the last axis, H = hadamard_matrix(n); transpose=True: x @ H / sqrt(n).

    H = H_small (x) H_a (x) H_b (Sylvester's H_2^k = H_a (x) H_b for a b = 2^k, all symmetric; H_12 is not):
    a row reshaped to (small, a, b) becomes H_small Y H_a^T H_b^T, three small matmuls.
    """
    x = as_float_array(x, "x")
    n = x.shape[-1]
    small, power = split_width(n)
    a = 2 ** ((power.bit_length() - 1) // 2)
    b = power // a
    y = x.reshape(-1, b) @ hadamard_matrix(b).astype(x.dtype)
    y = np.matmul(hadamard_matrix(a).astype(x.dtype), y.reshape(-1, a, b))
    if small > 1:
        y = np.matmul((H12.T if transpose else H12).astype(x.dtype), y.reshape(-1, small, power))
    return (y / np.sqrt(n).astype(x.dtype)).reshape(x.shape)


def walsh_hadamard_butterfly(x, transpose=False):
    """walsh_hadamard's textbook version, the reference it is tested against: log2(n) butterfly stages."""
    x = as_float_array(x, "x")
    n = x.shape[-1]
    small, power = split_width(n)
    y = x.reshape(x.shape[:-1] + (small, power))
    h = 1
    while h < power:  # butterfly stage: pairs (a, b) at distance h -> (a+b, a-b)
        pairs = y.reshape(y.shape[:-1] + (power // (2 * h), 2, h))
        a, b = pairs[..., 0, :], pairs[..., 1, :]
        y = np.stack((a + b, a - b), axis=-2).reshape(y.shape)
        h *= 2
    if small > 1:  # H_12 (x) H_p acting on a row reshaped (12, p): H_12 @ Y
        y = np.matmul((H12.T if transpose else H12).astype(y.dtype), y)
    return (y / np.sqrt(n).astype(y.dtype)).reshape(x.shape)


@dataclass(frozen=True)
class RandomHadamard:
    """Q = diag(signs) H^T / sqrt(n): x -> x Q is walsh_hadamard(x * signs)."""

    signs: np.ndarray  # (n,) of +-1

    @property
    def width(self):
        return self.signs.shape[0]

    def matrix(self):
        """The explicit orthogonal Q (n x n), float64: for checks and pictures, not for speed."""
        return self.signs[:, None] * hadamard_matrix(self.width).T / np.sqrt(self.width)

    def rotate(self, x):
        """x Q along the last axis (rows of activations, or rows of a (out, in) weight)."""
        x = as_float_array(x, "x")
        if x.shape[-1] != self.width:
            raise ValueError(f"x has {x.shape[-1]} features on its last axis but the rotation is {self.width} wide")
        return walsh_hadamard(x * self.signs.astype(x.dtype))

    def unrotate(self, y):
        """y Q^T, the inverse: signs * (y H / sqrt(n))."""
        y = as_float_array(y, "y")
        if y.shape[-1] != self.width:
            raise ValueError(f"y has {y.shape[-1]} features on its last axis but the rotation is {self.width} wide")
        return walsh_hadamard(y, transpose=True) * self.signs.astype(y.dtype)


def random_hadamard(width, seed=0):
    """A random Hadamard rotation of `width` features: seeded random signs times the Walsh-Hadamard matrix."""
    split_width(width)
    signs = np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=width)
    return RandomHadamard(signs)


def rotate_linear(x, weight, rotation):
    """(x Q, W Q): the pair the quantizers see; (x Q)(W Q)^T = x W^T. W Q is folded offline into the weights."""
    x, weight = as_matrix(x, "x"), as_matrix(weight, "weight")
    if x.shape[1] != weight.shape[1] or rotation.width != x.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features, weight {weight.shape} (out, in), rotation {rotation.width}; "
            f"all three must agree on the input width"
        )
    return rotation.rotate(x), rotation.rotate(weight)
