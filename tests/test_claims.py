"""The article's claims (quantlab.claims): complete, linked to sections that exist, and computed verdicts recomputed.

Each computed verdict is tested by the logical condition it rests on (e.g. "5 bits, not 4.125"), with the
numbers recomputed by quantlab here, never copied from a previous run.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from quantlab import checks, claims
from quantlab.claims import measure
from quantlab.claims.catalog import EVIDENCE_KINDS, NOTEBOOKS
from quantlab.mixes.published import LLAMA_2_7B_BPW

ROOT = Path(__file__).resolve().parent.parent
IDS = [c.id for c in claims.CLAIMS]


def headings(path):
    """Every markdown heading's text in a notebook ("## The cost of a scale" -> "The cost of a scale")."""
    found = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            found |= {m.group(1).strip() for m in re.finditer(r"^#+\s+(.+)$", "".join(cell["source"]), re.M)}
    return found


@pytest.mark.parametrize("c", claims.CLAIMS, ids=IDS)
def test_every_claim_is_complete(c):
    assert c.topic in claims.TOPICS, f"{c.id}: topic {c.topic!r}"
    assert c.verdict in claims.VERDICTS, f"{c.id}: verdict {c.verdict!r} not in {claims.VERDICTS}"
    assert c.quote.strip() and len(c.quote) <= 200, f"{c.id}: quote the article briefly (<= 200 characters)"
    assert len(c.correction.strip()) >= 10, f"{c.id}: no correct statement"
    assert c.evidence, f"{c.id}: no evidence"
    for e in c.evidence:
        assert e.kind in EVIDENCE_KINDS and e.ref.strip(), f"{c.id}: evidence {e}"


def test_ids_are_unique_and_every_topic_has_claims():
    assert len(IDS) == len(set(IDS))
    assert {c.topic for c in claims.CLAIMS} == set(claims.TOPICS)


@pytest.mark.parametrize("c", claims.CLAIMS, ids=IDS)
def test_every_linked_notebook_section_exists(c):
    for e in (e for e in c.evidence if e.kind == "notebook"):
        path = ROOT / "notebooks" / e.notebook
        assert path.exists(), f"{c.id}: {e.notebook} does not exist"
        assert e.heading in headings(path), f"{c.id}: {e.notebook} has no heading {e.heading!r}"


def test_notebook_12_has_a_section_per_topic():
    found = headings(ROOT / "notebooks" / NOTEBOOKS["12"])
    missing = [title for title in claims.TOPICS.values() if title not in found]
    assert not missing, f"notebook 12 has no section for {missing}"


def test_the_heading_reader_can_fail():
    assert "The cost of a scale" in headings(ROOT / "notebooks" / NOTEBOOKS["04"])
    assert "The cost of a scaler" not in headings(ROOT / "notebooks" / NOTEBOOKS["04"])


# Each computed verdict, recomputed: the condition that makes the article's words right, partly right or wrong.
def _memory_fp32():
    fp32 = measure.model_memory(7e9).values["fp32"]
    assert abs(fp32["GB"] - 28) < 0.5 and fp32["GiB"] < 27  # "around 28 GB" holds in GB, not in GiB
    return "right"


def _memory_fp16():
    assert abs(measure.model_memory(7e9).values["fp16"]["GB"] - 14) < 0.5
    return "right"


def _code_range():
    r = measure.article_code_range(bits=4).values
    assert (r["lowest"], r["highest"]) == (-7, 7)  # the recipe works; -8 is never used
    return "right"


def _zero_group():
    r = measure.zero_group_codes().values
    assert r["scale"] == 0 and not r["codes_finite"] and np.all(r["q4_0"] == 0)
    return "partly right"


def _coarser_grid():
    w = np.random.default_rng(0).normal(0, 0.1, 4096).astype(np.float32)
    clean_step = measure.article_quantize_symmetric(w, 4)[1]
    assert measure.article_outlier_step().values["step"] > 10 * clean_step
    return "right"


def _step():
    step = measure.article_outlier_step().values["step"]
    assert abs(step - 1.33) > 0.05 and step == pytest.approx(20 / 14)
    return "wrong"


def _collapse():
    r = measure.article_outlier_step().values
    assert r["share_in_half"] > 0.99 and r["codes_of_small"] == [0]  # they collapse, onto one integer
    return "partly right"


def _demo_values():
    assert measure.article_outlier_demo(seeds=range(50)).values["clean_mse"] > 5 * 0.000012
    return "wrong"


def _three_orders():
    r = measure.article_outlier_demo(seeds=range(50)).values
    assert r["ratio"] < 100 and r["ratio_5_95"][1] < 1000 / 10
    return "wrong"


def _one_bit():
    assert measure.grouped_bits_per_weight(4, 32).values["overhead"] == 32 / 32
    return "right"


def _quarter():
    assert measure.grouped_bits_per_weight(4, 32).values["overhead_share"] == 0.25
    return "right"


def _bits():
    r = measure.grouped_bits_per_weight(4, 32).values
    assert r["bits_per_weight"] != 4.125 and r["bits_per_weight"] == 4 + 32 / 32 and r["fp16_per_128"] == 4.125
    return "wrong"


def _smaller_than_fp16():
    assert measure.grouped_bits_per_weight(4, 32).values["bits_per_weight"] <= 16 / 3
    return "right"


def _uniform_grid():
    r = measure.kquant_level_gaps().values
    assert r["n_sub_blocks"] > 100 and abs(r["smallest_gap"] - 1) < 1e-3 and abs(r["largest_gap"] - 1) < 1e-3
    return "wrong"


def _sub_blocks():
    r = measure.kquant_sub_blocks().values
    assert r["Q4_K"] == r["Q5_K"] == (8, 32) and r["Q6_K"] == (16, 16) != (8, 32)
    return "partly right"


def _q4_bits():
    r = measure.mix_bits_per_weight("Q4_K_M").values
    assert min(r.values()) >= 4.5  # not 4 on average: 4.5 for the block alone
    return "wrong"


def _suffixes():
    r = measure.variant_types().values
    assert r["Q4_K_S"]["attn_v"] != r["Q4_K_M"]["attn_v"] and r["L mixes"]
    return "right"


def _m_variant():
    r = measure.variant_types().values["Q4_K_M"]
    assert r["attn_output"] == {"Q4_K": 32} and r["attn_v"] == {"Q6_K": 16, "Q4_K": 16}
    return "partly right"


def _s_variant():
    r = measure.variant_types().values["Q4_K_S"]
    assert set().union(*(set(types) for types in r.values())) - {"Q4_K"}  # more than 4 bits somewhere
    return "wrong"


def _l_variant():
    from quantlab.mixes import sizes

    llama = sizes.ARCHITECTURES["Llama-2-7B"]
    assert measure.variant_types().values["L mixes"] == ["Q3_K_L"]
    assert sizes.mix_size(llama, "Q3_K_L").n_bytes > sizes.mix_size(llama, "Q3_K_M").n_bytes
    return "partly right"


def _mixing_is_why():
    r = measure.q4_k_m_against_q4_0().values
    assert r["ppl_increase"]["Q4_K_M"] < r["ppl_increase"]["Q4_0"] and r["format_share"] > 0.5
    return "partly right"


def _similar_bits():
    bpw = measure.q4_k_m_against_q4_0().values["bits_per_weight"]
    assert 0.2 < bpw["Q4_K_M"] - bpw["Q4_0"] < 0.5  # close, but a few percent more bytes
    return "partly right"


def _table_sizes():
    rows = measure.article_table_sizes().values["rows"]
    for mix, r in rows.items():
        if mix != "Q2_K":
            assert abs(r["article"][0] - r["computed"][0]) <= 0.05 and abs(r["article"][1] - r["computed"][1]) <= 0.05
    return "right"


def _q2_k():
    r = measure.article_table_sizes().values["rows"]["Q2_K"]
    assert r["article"][0] - r["computed"][0] > 0.2 and abs(r["article"][0] - LLAMA_2_7B_BPW["Q2_K"]) <= 0.05
    return "partly right"


def _baseline():
    r = measure.published_perplexity().values
    assert abs(r["article_f16"] - r["llama_cpp_f16"]) > 0.5
    return "wrong"


def _increases():
    increases = measure.published_perplexity().values["increases"]
    assert all(article > published for article, published in increases.values())
    assert all(article >= 1.5 * published for mix, (article, published) in increases.items() if mix != "Q8_0")
    return "wrong"


def _reduction():
    assert round(measure.article_table_sizes().values["f16_over_q4_k_m"], 1) == ARTICLE_LLAMA_2_7B_REDUCTION
    return "right"


def _awq():
    assert measure.awq_equivalence().values["relative_difference"] < 1e-12
    return "right"


def _fits():
    r = measure.q4_k_m_fits().values
    assert 4 <= r["Llama-2-7B"]["GB"] <= 6 and r["Llama-2-13B"]["GB"] > 6
    return "partly right"


ARTICLE_LLAMA_2_7B_REDUCTION = 3.3  # "a 3.3x memory reduction from F16"
CONDITIONS = {
    "M1": _memory_fp32,
    "M2": _memory_fp16,
    "A1": _code_range,
    "A4": _zero_group,
    "O4": _coarser_grid,
    "O5": _step,
    "O6": _collapse,
    "O7": _demo_values,
    "O8": _three_orders,
    "G2": _one_bit,
    "G3": _quarter,
    "G4": _bits,
    "G5": _smaller_than_fp16,
    "K3": _uniform_grid,
    "K7": _sub_blocks,
    "N1": _q4_bits,
    "N4": _suffixes,
    "N6": _m_variant,
    "N7": _s_variant,
    "N8": _l_variant,
    "N9": _mixing_is_why,
    "N10": _similar_bits,
    "Q3": _table_sizes,
    "Q4": _q2_k,
    "Q5": _baseline,
    "Q6": _increases,
    "Q10": _reduction,
    "C8": _awq,
    "T2": _fits,
}


def test_every_computed_claim_has_its_condition_and_function():
    computed = {c.id for c in claims.CLAIMS if any(e.kind == "computed" for e in c.evidence)}
    assert computed == set(CONDITIONS), f"conditions missing for {computed - set(CONDITIONS)}"
    for c in claims.CLAIMS:
        for e in (e for e in c.evidence if e.kind == "computed"):
            assert callable(getattr(measure, e.ref, None)), f"{c.id}: measure.{e.ref} does not exist"


@pytest.mark.parametrize("claim_id", sorted(CONDITIONS))
def test_computed_verdicts_hold(claim_id):
    assert CONDITIONS[claim_id]() == claims.claim(claim_id).verdict


def test_tables_and_counts():
    for topic in claims.TOPICS:
        table = claims.topic_table(topic)
        rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| |")]
        assert len(rows) == len(claims.by_topic(topic))
        assert all(line.count(" | ") == 4 for line in rows), "an unescaped | splits a cell"
        assert table._repr_markdown_() == str(table)
    counts = claims.count_by_verdict()
    assert sum(counts.values()) == len(claims.CLAIMS) and set(counts) == set(claims.VERDICTS)
    assert claims.summary_text().startswith(f"{len(claims.CLAIMS)} claims: {counts['right']} right")
    link = claims.report.evidence_text(claims.claim("G4").evidence[1])
    assert link == "[04 · The cost of a scale](04_groups.ipynb#The-cost-of-a-scale)"


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="claim_id='Z9'"):
        claims.claim("Z9")
    with pytest.raises(ValueError, match="topic='nope'"):
        claims.by_topic("nope")


@pytest.mark.parametrize(
    "answer, ok, words",
    [
        (10 / 7, True, ["Right", "14 gaps"]),
        (1.4286, True, ["Right"]),
        (20 / 15, False, ["article's number", "14 gaps"]),
        (1.25, False, ["16 levels"]),
        (20 / 7, False, ["whole range"]),
        (10 / 15, False, ["largest weight by 15"]),
        (0.5 / 7, False, ["without the outliers"]),
        (3.0, False, ["Hint"]),
        (None, False, []),
    ],
)
def test_check_outlier_step(answer, ok, words, capsys):
    assert bool(checks.check_outlier_step(answer)) is ok
    printed = capsys.readouterr().out
    assert all(w in printed for w in words), printed
    if answer is None:
        assert "Not answered" in printed


def test_check_outlier_step_refuses_text():
    with pytest.raises(TypeError, match="step"):
        checks.check_outlier_step("about 1.4")


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: measure.article_quantize_symmetric([1, 2, 3]), TypeError, "weights"),
        (lambda: measure.article_quantize_symmetric(np.ones(4, np.float32), bits=12), ValueError, "bits=12"),
        (lambda: measure.article_outlier_demo(seeds=[]), ValueError, "seeds is empty"),
        (lambda: measure.article_outlier_step(n=1), ValueError, "n=1"),
        (lambda: measure.zero_group_codes(group_size=0), ValueError, "group_size=0"),
        (lambda: measure.model_memory(-7e9), ValueError, "n_params"),
        (lambda: measure.grouped_bits_per_weight(bits=4, group_size=48), ValueError, "group_size=48"),
    ],
)
def test_measure_names_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
