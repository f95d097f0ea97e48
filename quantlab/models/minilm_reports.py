"""MiniLM's numbers as text: embedding fidelity per GGML type, and the matrices whose weights stand out."""

from ..progress import map_with_progress
from . import minilm, minilm_outliers
from ..lm.quality import describe

MINILM_TYPES = ("Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q4_0", "Q2_K")


def fidelity_rows(types=MINILM_TYPES, progress=None):
    """minilm.embedding_fidelity for each type (every encoder matrix; K types fall back on rows of 384)."""
    return map_with_progress(minilm.embedding_fidelity, types, progress)


def fidelity_text(rows):
    """Type asked for, types used, bits per weight, mean and worst cosine to the FP32 embeddings."""
    lines = [f"{'type':<7}{'bits':>6}{'mean cos':>10}{'min cos':>9}{'1 - mean':>10}  types used (36 matrices)"]
    for row in rows:
        lines.append(
            f"{row.requested:<7}{row.bits_per_weight:>6.3f}{row.mean_cosine:>10.6f}{row.min_cosine:>9.5f}"
            f"{1 - row.mean_cosine:>10.2e}  {describe(row.type_counts)}"
        )
    return "\n".join(lines)


def outliers_text(rows, min_over_std=15.0):
    """minilm_outliers.outlier_summary rows whose largest weight is >= min_over_std x std (and every ffn_down)."""
    lines = [
        f"{'layer':>5} {'role':<12}{'max/std':>8} {'largest at':>12}{'dim':>5}{'outliers':>9}"
        f"{'ruined groups':>15}{'err share':>10}"
    ]
    for r in rows:
        if r["max_over_std"] < min_over_std and r["role"] != "ffn_down":
            continue
        ruined = f"{r['n_ruined']}/{r['n_groups']}"
        lines.append(
            f"{r['layer']:>5} {r['role']:<12}{r['max_over_std']:>8.1f} {str(r['largest_at']):>12}"
            f"{r['residual_dim']:>5}{r['n_outliers']:>9}{ruined:>15}{r['mse_share']:>10.1%}"
        )
    return "\n".join(lines)


def ruined_groups_text(type_name="Q4_0"):
    """Text: MiniLM's embedding fidelity under a type, and with the groups an outlier ruins kept exact."""
    quantized = minilm.quantized_weights(minilm.plan_minilm_types(type_name))
    restored = minilm_outliers.restore_ruined_groups(quantized)
    reference = minilm.embed(minilm.SENTENCES)
    lines = []
    for name, weights in ((type_name, quantized), (f"{type_name}, ruined groups exact", restored)):
        cosine = minilm.cosine(minilm.embed(minilm.SENTENCES, weights), reference)
        lines.append(f"{name:<26} mean cosine {cosine.mean():.6f}, worst {cosine.min():.6f}")
    return "\n".join(lines)
