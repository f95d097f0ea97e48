"""The claims as readers see them: a markdown table per topic, and the count of verdicts."""

from collections import Counter

from .catalog import CLAIMS, NOTEBOOKS, TOPICS, VERDICTS, by_topic

MARKS = {"right": "✅ right", "partly right": "⚠️ partly right", "wrong": "❌ wrong"}


class Markdown(str):
    """Text that Jupyter renders as markdown (and prints as itself anywhere else)."""

    def _repr_markdown_(self):
        return str(self)

    def __repr__(self):
        return str(self)


def anchor(heading):
    """Jupyter's link anchor for a heading: spaces become hyphens, everything else stays."""
    return heading.replace(" ", "-")


def evidence_text(evidence):
    """One piece of evidence as markdown: a link to the notebook section, the function to run, or the citation."""
    if evidence.kind == "notebook":
        number = next(n for n, f in NOTEBOOKS.items() if f == evidence.notebook)
        return f"[{number} · {evidence.heading}]({evidence.notebook}#{anchor(evidence.heading)})"
    if evidence.kind == "computed":
        return f"computed here: `claims.measure.{evidence.ref}()`"
    return evidence.ref


def _cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def topic_table(topic):
    """A markdown table of one topic's claims: id, the article's words, verdict, correction, evidence."""
    lines = ["| | the article says | verdict | what is true | evidence |", "|---|---|---|---|---|"]
    for c in by_topic(topic):
        quote = c.quote if c.quote.startswith("[") else f"“{c.quote}”"
        evidence = "<br>".join(evidence_text(e) for e in c.evidence)
        lines.append(f"| {c.id} | {_cell(quote)} | {MARKS[c.verdict]} | {_cell(c.correction)} | {_cell(evidence)} |")
    return Markdown("\n".join(lines))


def count_by_verdict(claims=CLAIMS):
    """{verdict: number of claims}, every verdict present (0 if none)."""
    counts = Counter(c.verdict for c in claims)
    return {verdict: counts.get(verdict, 0) for verdict in VERDICTS}


def summary_text(claims=CLAIMS):
    """How many claims got each verdict, overall and per topic."""
    total = count_by_verdict(claims)
    lines = [f"{len(claims)} claims: " + ", ".join(f"{n} {v}" for v, n in total.items())]
    for topic, title in TOPICS.items():
        counts = count_by_verdict([c for c in claims if c.topic == topic])
        lines.append(f"  {title:<36} " + "  ".join(f"{n:>2} {v}" for v, n in counts.items()))
    return "\n".join(lines)
