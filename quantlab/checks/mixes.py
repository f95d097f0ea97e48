"""Self-check for notebook 07's exercise: the largest llama.cpp mix that fits a memory budget with its KV cache.

Same manner as quantlab.checks: print a verdict, return a truthy/falsy Verdict, name the mistake.
"""

from .base import NOT_ANSWERED, unanswered, verdict
from ..memory import GIB
from ..mixes.calculator import CALCULATOR_MIXES, model_sizes
from ..mixes.sizes import ARCHITECTURES, kv_cache_bytes


def _largest(weights, cache_bytes, budget_bytes):
    """The first (largest) calculator mix whose weights plus cache fit, or None."""
    return next((mix for mix in CALCULATOR_MIXES if weights[mix] + cache_bytes <= budget_bytes), None)


def check_largest_fit(answer, model="Llama-3.1-8B", budget_gib=8, n_ctx=16384, cache_type="F16"):
    """Exercise 07: the largest mix of `model` that fits `budget_gib` GiB with an n_ctx-token KV cache.

    `answer` is a mix name such as "Q4_K_M" (or "none" if nothing fits).
    """
    if unanswered(answer):
        return NOT_ANSWERED
    if not isinstance(answer, str):
        raise TypeError(f"answer should be a mix name such as 'Q4_K_M' (a string), got {answer!r}")
    arch = ARCHITECTURES[model]
    mine = answer.strip().upper()
    mine = None if mine in ("NONE", "NOTHING", "") else mine
    if mine is not None and mine not in CALCULATOR_MIXES:
        return verdict(False, f"{answer!r} is not one of the mixes here: {', '.join(CALCULATOR_MIXES)} (or 'none').")
    weights = {mix: size.n_bytes for mix, size in model_sizes(arch).items()}
    budget = int(budget_gib * GIB)
    cache = kv_cache_bytes(arch.n_layer, n_ctx, arch.n_head_kv, arch.head_dim, cache_type)
    right = _largest(weights, cache, budget)
    if mine is None and right is None:
        return verdict(
            True,
            f"Right: the {cache_type} KV cache alone takes {cache / GIB:g} GiB, and even {CALCULATOR_MIXES[-1]} "
            f"({weights[CALCULATOR_MIXES[-1]] / GIB:.2f} GiB) does not fit beside it: shorten the context.",
        )
    if mine == right:
        return verdict(
            True,
            f"Right: the {cache_type} KV cache takes 2 (K and V) x {arch.n_layer} layers x {n_ctx:,} tokens x "
            f"{arch.n_head_kv} KV heads x {arch.head_dim} x 2 bytes = {cache / GIB:g} GiB, which leaves "
            f"{(budget - cache) / GIB:g} GiB for weights: {right} ({weights[right] / GIB:.2f} GiB) is the "
            f"largest mix that fits.",
        )
    mistakes = {  # what a slip would give -> what the slip is
        _largest(
            weights, 0, budget
        ): "That ignores the KV cache: at this context it needs memory too (2 x layers x tokens x KV heads x head size x bytes).",
        _largest(
            weights, cache // 2, budget
        ): "That counts only one of the two caches: llama.cpp keeps both K and V, hence the factor 2.",
        _largest(
            weights, kv_cache_bytes(arch.n_layer, n_ctx, arch.n_head, arch.head_dim, cache_type), budget
        ): f"That sizes the cache with all {arch.n_head} query heads; with grouped-query attention only "
        f"n_head_kv = {arch.n_head_kv} K/V heads are cached.",
        _largest(
            weights, cache * 2, budget
        ): "That prices each cached value at 4 bytes (F32); an F16 cache stores 2 bytes per value.",
    }
    mistakes.pop(right, None)  # a slip that lands on the right answer says nothing
    if mine in mistakes:
        return verdict(False, mistakes[mine])
    if mine is None:
        return verdict(
            False, f"Something does fit: {right} needs {(weights[right] + cache) / GIB:.2f} GiB with its cache."
        )
    total = weights[mine] + cache
    if total > budget:
        return verdict(
            False,
            f"{mine} does not fit: {weights[mine] / GIB:.2f} GiB of weights + {cache / GIB:g} GiB of cache "
            f"= {total / GIB:.2f} GiB > {budget_gib:g} GiB.",
        )
    return verdict(
        False,
        f"{mine} fits, but it is not the largest: a mix with more bits per weight fits too. Hint: the "
        f"room for weights is the budget minus the cache; compare each mix's size with it.",
    )
