"""quantlab.ggml.anatomy: layouts, grids and the K-quant search, each checked against something independent.

Layouts against gguf-py's sizes and against what the decoder reads when a byte changes; grids against
gguf-py's dequantizer; the 6-bit scale map against quantlab's unpacker (written from other code);
the search against the closed-form weighted least-squares fit and against a brute-force search.
"""

import numpy as np
import pytest

from quantlab import data, ggml
from quantlab.ggml import anatomy

import gguf  # noqa: E402  (an oracle: in the test extra, so a missing one fails)
from gguf import GGMLQuantizationType  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES  # noqa: E402

K_QUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
# ggml-common.h's comments on the K-quant structs: "Effectively 2.625 bits per weight", etc.
PUBLISHED_BITS = {"Q2_K": 2.625, "Q3_K": 3.4375, "Q4_K": 4.5, "Q5_K": 5.5, "Q6_K": 6.5625}
# Which decoded field (quantlab.ggml.fields) each layout field feeds.
DECODES_TO = {
    "d": {"d"},
    "dmin": {"dmin"},
    "m": {"m"},
    "qs": {"codes"},
    "qh": {"codes"},
    "ql": {"codes"},
    "hmask": {"codes"},
}
SCALE_FIELDS = {
    "Q2_K": {"scales", "mins"},
    "Q3_K": {"scales"},
    "Q4_K": {"scales", "mins"},
    "Q5_K": {"scales", "mins"},
    "Q6_K": {"scales"},
}


def tensor(kind="gaussian", n=2048, seed=0):
    return data.weights(kind, n, 0.02, seed=seed)


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize("type_name", anatomy.TYPES)
def test_layout_tiles_the_block_and_matches_gguf_sizes(type_name):
    layout = anatomy.byte_layout(type_name)
    offsets = [field.offset for field in layout]
    ends = [field.offset + field.length for field in layout]
    assert offsets[0] == 0 and offsets[1:] == ends[:-1], "fields must follow each other without gaps"
    block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    assert ends[-1] == type_size
    assert anatomy.field_of_each_byte(type_name, n_blocks=3).shape == (3 * type_size,)
    assert ggml.format_info(type_name).block_size == block_size


@pytest.mark.parametrize("type_name", anatomy.TYPES)
def test_each_byte_feeds_the_field_its_layout_names(type_name):
    """Flip one byte at a time: only the decoded field(s) of the byte's layout field may change."""
    data_bytes = ggml.quantize(tensor("laplace", 256, seed=3), type_name).reshape(-1)[
        : ggml.format_info(type_name).bytes_per_block
    ]
    before = ggml.fields(data_bytes, type_name)
    layout = anatomy.byte_layout(type_name)
    owner = anatomy.field_of_each_byte(type_name)
    for field in layout:
        expected = SCALE_FIELDS[type_name] if field.name == "scales" else DECODES_TO[field.name]
        seen = set()
        for byte in range(field.offset, field.offset + field.length):
            assert owner[byte] == layout.index(field)
            flipped = data_bytes.copy()
            flipped[byte] ^= 0xFF
            after = ggml.fields(flipped, type_name)
            changed = {key for key in before if not np.array_equal(before[key], after[key], equal_nan=True)}
            assert changed and changed <= expected, f"{type_name} byte {byte} ({field.name}) changed {changed}"
            seen |= changed
        assert seen == expected, f"{type_name}.{field.name} feeds {seen}, layout says {expected}"


@pytest.mark.parametrize("type_name", anatomy.TYPES)
def test_bits_breakdown_adds_up_to_the_registry(type_name):
    parts = anatomy.bits_breakdown(type_name)
    assert sum(parts.values()) == ggml.format_info(type_name).bits_per_weight
    block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    assert sum(parts.values()) == 8 * type_size / block_size


def test_bits_per_weight_are_the_published_ones():
    table = {row["type"]: row for row in anatomy.bits_per_weight_table()}
    for name, bits in PUBLISHED_BITS.items():
        assert table[name]["bits_per_weight"] == bits
    assert table["Q4_K"]["codes"] == 4 and table["Q4_K"]["sub-block scales"] == 0.375
    assert table["Q4_0"]["bits_per_weight"] == table["IQ4_NL"]["bits_per_weight"] == 4.5


# ---------------------------------------------------------------- Q4_K / Q5_K scale bytes


@pytest.mark.parametrize("type_name", ["Q4_K", "Q5_K"])
def test_six_bit_scales_bit_by_bit_match_the_decoder(type_name):
    rng = np.random.default_rng(0)
    size = ggml.format_info(type_name).bytes_per_block
    for _ in range(50):  # any bytes decode: random ones reach every bit
        block = rng.integers(0, 256, size, dtype=np.uint8)
        block[:4] = 0  # d, dmin = 0: finite fp16, irrelevant here
        rows = anatomy.six_bit_scales(block[4:16])
        f = ggml.fields(block, type_name)
        assert [r.value for r in rows if r.kind == "scale"] == f["scales"][0].tolist()
        assert [r.value for r in rows if r.kind == "min"] == f["mins"][0].tolist()
    # every one of the 96 bits is used exactly once
    used = [(byte, bit) for r in rows for byte, low, count in r.sources for bit in range(low, low + count)]
    assert len(used) == len(set(used)) == 96


def test_six_bit_scales_refuse_other_lengths():
    with pytest.raises(ValueError, match="12 uint8"):
        anatomy.six_bit_scales(np.zeros(16, np.uint8))


# ---------------------------------------------------------------- grids


@pytest.mark.parametrize("type_name", anatomy.TYPES)
@pytest.mark.parametrize("kind", ["gaussian", "student-t"])
def test_grid_levels_rebuild_the_weights_gguf_reads(type_name, kind):
    blocks = ggml.quantize(tensor(kind), type_name)
    grids = anatomy.sub_block_grids(blocks, type_name)
    oracle = gguf.quants.dequantize(blocks, GGMLQuantizationType[type_name]).reshape(-1)
    assert np.array_equal(grids.reconstruction.reshape(-1), oracle)
    bits = {"Q8_0": 8, "Q2_K": 2, "Q3_K": 3, "Q6_K": 6}.get(type_name, 5 if type_name[1] == "5" else 4)
    assert grids.levels.shape[1] == 2**bits
    assert grids.sub_block_size * len(grids.levels) == 2048


@pytest.mark.parametrize("type_name", [t for t in anatomy.TYPES if t != "IQ4_NL"])
def test_grids_are_uniform_with_the_stated_step(type_name):
    grids = anatomy.sub_block_grids(ggml.quantize(tensor("laplace"), type_name), type_name)
    gaps = np.diff(grids.levels.astype(np.float64), axis=1)
    np.testing.assert_allclose(gaps, np.broadcast_to(grids.step[:, None], gaps.shape), rtol=1e-5, atol=1e-12)


def test_iq4_nl_grid_is_the_fixed_table_times_d():
    blocks = ggml.quantize(tensor(), "IQ4_NL")
    grids = anatomy.sub_block_grids(blocks, "IQ4_NL")
    d = ggml.fields(blocks, "IQ4_NL")["d"]
    table = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113])  # kvalues_iq4nl
    np.testing.assert_array_equal(grids.levels, (d[:, None] * table).astype(np.float32))
    assert np.isnan(grids.step).all()
    assert anatomy.gap_ratio(table) > 1.5


@pytest.mark.parametrize("type_name", K_QUANTS)
def test_k_quant_weights_sit_on_the_nearest_level_of_their_grid(type_name):
    """The codes are re-derived from the stored grid, so each weight takes its nearest level."""
    w = tensor("gaussian", 4096, seed=2)
    grids = anatomy.sub_block_grids(ggml.quantize(w, type_name), type_name)
    x = w.reshape(grids.codes.shape).astype(np.float64)
    nearest = np.min(np.abs(x[..., None] - grids.levels[:, None, :]), axis=-1)
    taken = np.abs(x - grids.reconstruction)
    assert np.all(taken <= nearest + 1e-6 * np.abs(grids.step)[:, None] + 1e-12)


def test_distinct_k_quant_values_are_whole_steps_apart_and_k_means_are_not():
    w = tensor("gaussian", 256, seed=5)
    blocks = ggml.quantize(w, "Q4_K")
    grids = anatomy.sub_block_grids(blocks, "Q4_K")
    for j in range(8):
        steps = anatomy.spacing_in_steps(grids.reconstruction[j], grids.step[j])
        np.testing.assert_allclose(steps, np.rint(steps), atol=1e-4)
    search = anatomy.kquant_search(w, "Q4_K")
    ratios = [anatomy.gap_ratio(levels) for levels in search.kmeans_levels]
    assert min(ratios) > 1.5
    assert max(anatomy.gap_ratio(levels) for levels in search.stored_levels) < 1 + 1e-4


# ---------------------------------------------------------------- the K-quant search


@pytest.mark.parametrize("type_name", ["Q4_K", "Q5_K"])
@pytest.mark.parametrize("kind,seed", [("gaussian", 0), ("laplace", 1), ("student-t", 2)])
def test_search_is_a_weighted_least_squares_fit_of_a_uniform_grid(type_name, kind, seed):
    w = tensor(kind, 1024, seed=seed)
    ratios = []
    for block in range(4):
        r = anatomy.kquant_search(w, type_name, block)
        # 1. the float (scale, min) solve the weighted normal equations for the search's own codes
        np.testing.assert_allclose(r.search_scale, r.wls_scale, rtol=1e-4)
        np.testing.assert_allclose(r.search_min, r.wls_min, rtol=1e-4, atol=1e-4 * np.abs(r.search_min).max())
        # 2. two levels: the stored 6-bit s_j, m_j are the float fits rounded on a grid of max/63
        assert np.array_equal(r.sub_scales, np.minimum(np.rint(63 * r.search_scale / r.search_scale.max()), 63))
        assert np.array_equal(r.sub_mins, np.minimum(np.rint(63 * r.search_min / r.search_min.max()), 63))
        assert r.d == np.float16(r.search_scale.max() / np.float32(63))
        np.testing.assert_allclose(r.stored_scale, r.search_scale, atol=0.51 * r.d * 1.001)
        # 3. the search finds (nearly) the best uniform grid, and beats the plain min-max grid
        errors = r.errors
        best = errors["best uniform grid (brute force)"]
        assert np.all(errors["search (float scale, min)"] <= errors["min-max grid"] * (1 + 1e-5))
        ratios.extend(errors["search (float scale, min)"] / best)
        # 4. a k-means codebook, with the same number of free levels per sub-block, does better
        #    on error; Q4_K's 144 bytes could never hold it (see the notebook)
        assert np.all(
            errors[f"k-means, {2 ** (5 if type_name == 'Q5_K' else 4)} free levels"]
            <= errors["stored (6-bit s_j, m_j)"] * (1 + 1e-9)
        )
    # A heuristic over ~20 candidates: the median sub-block within a few percent of the best grid, a
    # few 20-90% off. Q5_K's 32-level error landscape is rougher, for the search and for the lattice.
    assert np.median(ratios) < {"Q4_K": 1.02, "Q5_K": 1.08}[type_name]


def test_brute_force_recovers_a_grid_the_weights_lie_on():
    rng = np.random.default_rng(4)
    scale, minimum = np.array([0.003, 0.01]), np.array([0.02, 0.05])
    codes = rng.integers(0, 16, (2, 32))
    codes[:, :2] = [0, 15]  # span the whole grid
    x = scale[:, None] * codes - minimum[:, None]
    found_scale, found_min, error = anatomy.brute_force_uniform_fit(x, np.ones_like(x), 15, n_grid=41, rounds=6)
    np.testing.assert_allclose(found_scale, scale, rtol=1e-3)
    np.testing.assert_allclose(found_min, minimum, rtol=1e-3)
    assert np.all(error < 1e-8)


def test_weighted_least_squares_matches_numpy_lstsq():
    rng = np.random.default_rng(1)
    x, weights, codes = rng.normal(size=(3, 32)), rng.uniform(0.5, 2, (3, 32)), rng.integers(0, 16, (3, 32))
    scale, minimum = anatomy.weighted_least_squares(x, weights, codes)
    for j in range(3):
        root = np.sqrt(weights[j])
        design = np.stack([codes[j], -np.ones(32)], axis=1) * root[:, None]
        (s, m), *_ = np.linalg.lstsq(design, x[j] * root, rcond=None)
        assert np.isclose(scale[j], s) and np.isclose(minimum[j], m)


# ---------------------------------------------------------------- bad input


def test_bad_types_and_blocks_are_named():
    with pytest.raises(ValueError, match="Q4_K"):
        anatomy.byte_layout("Q4_X")
    with pytest.raises(ValueError, match="not a quantized block type"):
        anatomy.byte_layout("F16")
    with pytest.raises(ValueError, match="Q4_K and Q5_K"):
        anatomy.kquant_search(tensor("gaussian", 256), "Q6_K")
    with pytest.raises(ValueError, match="block=2"):
        anatomy.kquant_search(tensor("gaussian", 512), "Q4_K", block=2)
    with pytest.raises(ValueError, match="multiple of 256"):
        anatomy.kquant_search(tensor("gaussian", 300), "Q4_K")
