"""Every technical claim of the article the course critiques, with a verdict, the correct statement and its evidence.

The article: "From Float32 to Q4_K_M: What LLM Quantization Actually Does to Weights". The claims are data
(`catalog.CLAIMS`); `measure` recomputes the checkable ones with quantlab; `report` renders a topic's
table and counts the verdicts. Notebook 12 reads them all.
"""

from . import catalog, measure, report
from .catalog import CLAIMS, TOPICS, VERDICTS, Claim, Evidence, by_topic, claim
from .report import count_by_verdict, summary_text, topic_table

__all__ = [
    "CLAIMS",
    "TOPICS",
    "VERDICTS",
    "Claim",
    "Evidence",
    "by_topic",
    "catalog",
    "claim",
    "count_by_verdict",
    "measure",
    "report",
    "summary_text",
    "topic_table",
]
