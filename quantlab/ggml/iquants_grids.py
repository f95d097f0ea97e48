"""The i-quant codebooks: llama.cpp's grids of 8- (or 4-) dimensional points, and how to search them.

An i-quant does not round weights one at a time: it rounds a group of 8 magnitudes (4 for IQ3) to
the nearest point of a fixed codebook, a "grid", and stores the point's index. The points sit on a
lattice: each coordinate is one of a few odd levels 2l + 1 (l = 0, 1, 2 for the IQ2 types, so 1 3 5;
l = 0..7 for the IQ3 types; IQ1 uses -1 0 1 around a shift), and of the 3^8 = 6561 (or 8^4 = 4096)
lattice points llama.cpp keeps a chosen subset (the points that real weights hit most often):
    IQ2_XXS 256 points, IQ2_XS 512, IQ2_S 1024 (8-dim, levels 1 3 5);
    IQ3_XXS 256, IQ3_S 512 (4-dim, levels 1 3 ... 15);  IQ1_S / IQ1_M 2048 (8-dim, levels -1 0 1).
Only magnitudes are in the grid: each weight's sign is stored separately as a bit (IQ2_XXS/XS
store 7 bits per 8 and make the count of minus signs even), so the grid covers one orthant.

The grids are data copied from llama.cpp, ggml/src/ggml-common.h (iq2xxs_grid, iq2xs_grid,
iq2s_grid, iq3xxs_grid, iq3s_grid, iq1s_grid, ksigns_iq2xs) at revision
0c1e57098bba43ac29e6e3b677cdceebdd22334f, unpacked to int8 by tools/extract_iquant_grids.py into
quantlab/assets/ggml_iquant_grids.npz. The lookup tables the quantizer uses are derived here
as llama.cpp's iq2xs_init_impl / iq3xs_init_impl derive them: a map from lattice point to grid
index (or "not on the grid"), and for each lattice point off the grid its neighbours: every grid
point within the `nwant` smallest distinct squared distances, nearest first, then by index.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

_ASSET = Path(__file__).resolve().parents[1] / "assets" / "ggml_iquant_grids.npz"

# name -> (table in ggml-common.h, the stored coordinate values in level order, bits per level in
#          the quantizer's lattice key, nwant: how many distinct distances of neighbours to keep)
_CODEBOOKS = {
    "IQ2_XXS": ("iq2xxs_grid", (8, 25, 43), 2, 2),
    "IQ2_XS": ("iq2xs_grid", (8, 25, 43), 2, 2),
    "IQ2_S": ("iq2s_grid", (8, 25, 43), 2, 1),
    "IQ3_XXS": ("iq3xxs_grid", (4, 12, 20, 28, 36, 44, 52, 62), 3, 2),
    "IQ3_S": ("iq3s_grid", (1, 3, 5, 7, 9, 11, 13, 15), 3, 3),
    "IQ1_S": ("iq1s_grid", (-1, 0, 1), 2, 3),
}


@cache
def grid_tables():
    """Every table of the asset as int8 arrays (points, dim), plus ksigns_iq2xs and the source."""
    with np.load(_ASSET) as data:
        return {name: data[name] for name in data.files}


@dataclass(frozen=True)
class Codebook:
    """One i-quant grid: points (n, dim) as stored for decoding, and the quantizer's lattice view."""

    name: str
    values: np.ndarray  # int8 (n, dim): the coordinates dequantization multiplies by
    levels: np.ndarray  # uint8 (n, dim): level l of each coordinate, position 2l + 1
    bits: int  # bits per coordinate in a lattice key
    index_of_key: np.ndarray  # int32 (2^(bits*dim),): grid index of a lattice key, or -1
    neighbours: np.ndarray  # int16 (2^(bits*dim), max_n): neighbours of off-grid keys, -1 padded
    neighbour_count: np.ndarray  # int32 (2^(bits*dim),): how many of each row are real

    @property
    def size(self):
        return len(self.values)

    @property
    def dim(self):
        return self.values.shape[1]

    def positions(self):
        """float32 (n, dim): the points as the quantizer sees them, 2l + 1."""
        return 2 * self.levels.astype(np.float32) + 1

    def key(self, levels):
        """Lattice key of level vectors (..., dim) of whole numbers: sum l_k << bits*k, as int64.

        One float32 matrix-vector product: keys are below 2^(bits * dim) <= 2^16, so every product and
        partial sum is a whole number below 2^24 and exact in float32, in any order of addition.
        """
        place = (1 << (np.arange(self.dim) * self.bits)).astype(np.float32)
        return (np.asarray(levels, dtype=np.float32) @ place).astype(np.int64)


def nearest_grid_points(positions, grid_positions, nwant, chunk=512):
    """Per position, the grid points at its `nwant` smallest distinct squared distances, nearest first (ties by index).

    llama.cpp's neighbour lists for the off-grid keys (an (n, width) int32 array padded with -1). Distances are
    small integers, so the cutoff (the nwant-th distinct distance) comes from a table of which distances occur,
    and the kept points are sorted by the key distance * n_grid + index.
    """
    n_grid = len(grid_positions)
    chunks = []
    for start in range(0, len(positions), chunk):
        d2 = ((positions[start : start + chunk, None, :] - grid_positions[None]) ** 2).sum(axis=2)
        rows = np.arange(len(d2))[:, None]
        present = np.zeros((len(d2), d2.max() + 1), dtype=bool)
        present[rows, d2] = True
        distinct = np.cumsum(present, axis=1)
        cutoff = np.where(distinct[:, -1] >= nwant, np.argmax(distinct >= nwant, axis=1), d2.max())
        kept = d2 <= cutoff[:, None]
        width = int(kept.sum(axis=1).max())
        sort_key = np.where(kept, d2 * n_grid + np.arange(n_grid), np.iinfo(np.int64).max)
        nearest = np.sort(np.partition(sort_key, width - 1, axis=1)[:, :width], axis=1)
        chunks.append(np.where(nearest < np.iinfo(np.int64).max, nearest % n_grid, -1))
    width = max(c.shape[1] for c in chunks)
    return np.vstack([np.pad(c, ((0, 0), (0, width - c.shape[1])), constant_values=-1) for c in chunks]).astype(
        np.int32
    )


def nearest_grid_points_reference(positions, grid_positions, nwant):
    """The readable version of nearest_grid_points: a stable argsort and np.unique per position."""
    lists = []
    for position in positions:
        d2 = ((position - grid_positions) ** 2).sum(axis=1)
        order = np.argsort(d2, kind="stable")  # by distance, then index
        cutoff = np.unique(d2)[:nwant].max()
        lists.append(order[d2[order] <= cutoff])
    neighbours = np.full((len(lists), max(map(len, lists))), -1, dtype=np.int32)
    for row, nearest in enumerate(lists):
        neighbours[row, : len(nearest)] = nearest
    return neighbours


@cache
def codebook(name):
    """The Codebook of an i-quant type ("IQ3_S", ...), with llama.cpp's map and neighbour lists."""
    table, coordinate_values, bits, nwant = _CODEBOOKS[name]
    values = grid_tables()[table]
    lookup = {v: l for l, v in enumerate(coordinate_values)}
    levels = np.vectorize(lookup.__getitem__, otypes=[np.uint8])(values)
    dim = values.shape[1]
    n_keys = 1 << (bits * dim)
    shifts = (np.arange(dim) * bits).astype(np.int64)
    keys = (levels.astype(np.int64) << shifts).sum(axis=1)
    index_of_key = np.full(n_keys, -1, dtype=np.int32)
    index_of_key[keys] = np.arange(len(values))
    # neighbours of the reachable off-grid keys: levels within range in every coordinate
    n_levels = len(coordinate_values)
    all_levels = (np.arange(n_keys)[:, None] >> shifts) & ((1 << bits) - 1)
    wanted = np.flatnonzero((index_of_key < 0) & (all_levels < n_levels).all(axis=1))
    lists = nearest_grid_points(2 * all_levels[wanted] + 1, 2 * levels.astype(np.int64) + 1, nwant)
    neighbours = np.full((n_keys, lists.shape[1]), -1, dtype=np.int16)  # grids have <= 2048 points
    neighbours[wanted] = lists
    return Codebook(
        name, values, levels, bits, index_of_key, neighbours, (neighbours >= 0).sum(axis=1).astype(np.int32)
    )
