"""Self-check for notebook 08's exercise: beat llama.cpp's Q4_K_M on our model, at no more bits per weight.

Same manner as quantlab.checks: print a verdict, return a truthy/falsy Verdict, name the mistake.
The answer is measured as the explorer measures it (lm.reports.explorer_meter: the 4,096-character
slice, the same cached tensors), so the numbers match what the learner saw.
"""

from .base import NOT_ANSWERED, unanswered, verdict
from ..ggml import FORMATS
from ..lm.quality import TENSOR_CLASSES, check_overrides, class_label, class_of
from ..lm.reports import explorer_meter

TARGET_MIX = "Q4_K_M"
KL_FRACTION = 0.5


def _settings(answer):
    """(mix, overrides) from a QualityExplorer or a dict such as {"mix": "Q4_K_M", "token_embd": "Q8_0"}."""
    if hasattr(answer, "overrides") and hasattr(answer, "settings"):  # a QualityExplorer
        return answer.settings["mix"], answer.overrides
    if not isinstance(answer, dict):
        raise TypeError(
            f"answer should be your QualityExplorer or a dict such as "
            f"{{'mix': 'Q4_K_M', 'attn_v': 'Q8_0'}}; got {type(answer).__name__}"
        )
    answer = dict(answer)
    mix = answer.pop("mix", TARGET_MIX)
    return mix, check_overrides(answer)


def _class_bits(types, shapes, n_weights):
    """{class: bits per weight of the whole model that the class's tensors take}."""
    bits = {c: 0.0 for c in TENSOR_CLASSES}
    for name, type_name in types.items():
        tensor_class = class_of(name)
        if tensor_class is not None:
            n = 1
            for dim in shapes[name]:
                n *= dim
            bits[tensor_class] += 8 * FORMATS[type_name].n_bytes(n) / n_weights
    return bits


def check_beat_q4_k_m(answer):
    """Exercise 08: a setting with at most Q4_K_M's bits per weight and at most half its KL divergence to F32."""
    if unanswered(answer):
        return NOT_ANSWERED
    mix, overrides = _settings(answer)
    meter = explorer_meter()
    target, mine = meter.measure(TARGET_MIX), meter.measure(mix, overrides)
    kl_share = mine.kl_divergence / target.kl_divergence
    numbers = (
        f"{mine.bits_per_weight:.3f} bits per weight (Q4_K_M: {target.bits_per_weight:.3f}) and KL "
        f"{mine.kl_divergence:.4f} nats/char ({kl_share:.0%} of Q4_K_M's {target.kl_divergence:.4f})"
    )
    if mine.types == target.types:
        return verdict(False, f"That is Q4_K_M itself ({numbers}). Change the type of a tensor class in the explorer.")
    if mine.bits_per_weight <= target.bits_per_weight and kl_share <= KL_FRACTION:
        raised = [c for c in TENSOR_CLASSES if _raised(mine.types, target.types, c)]
        share = _weight_shares(meter.shapes, meter.n_weights)["token_embd"]
        why = (
            f"token_embd holds {share:.1%} of the weights, yet at 4 bits it causes most of Q4_K_M's KL on this "
            f"model; llama.cpp's rules, tuned on LLaMA, leave it at the base type."
            if "token_embd" in raised
            else "The bits went where this model is sensitive."
        )
        return verdict(True, f"Right: {numbers}. {why}")
    shapes = meter.shapes
    mine_bits = _class_bits(mine.types, shapes, meter.n_weights)
    target_bits = _class_bits(target.types, shapes, meter.n_weights)
    over = mine.bits_per_weight - target.bits_per_weight
    if over > 0 and kl_share <= KL_FRACTION:
        return verdict(
            False,
            f"Half-way: {numbers}. The KL is low enough; now save {over:.3f} bits per weight. Hint: "
            f"Q4_K_M already gives more than 4.5 bits to some tensors (the readout's 'x1' entries "
            f"and the output matrix): which can go back to Q4_K without losing your gain?",
        )
    if over > 0:
        costliest = max(TENSOR_CLASSES, key=lambda c: mine_bits[c] - target_bits[c])
        extra = mine_bits[costliest] - target_bits[costliest]
        share = _weight_shares(shapes, meter.n_weights)
        return verdict(
            False,
            f"Too many bits: {numbers}. {class_label(costliest)} costs {extra:+.3f} bits per "
            f"weight over Q4_K_M. Hint: the classes differ hugely in size (ffn_up and ffn_down "
            f"hold {share['ffn_up'] + share['ffn_down']:.0%} of the weights, token_embd "
            f"{share['token_embd']:.1%}): bits spent on a small class are cheap.",
        )
    return verdict(
        False,
        f"Not yet: {numbers}; the target is at most {KL_FRACTION:.0%}. Hint: the classes are not "
        f"equally sensitive. Starting from Q4_K_M, raise one class at a time to Q8_0 in the "
        f"explorer and watch the KL, not the bits: one class removes most of it.",
    )


def _weight_shares(shapes, n_weights):
    """{class: fraction of the model's weights}."""
    shares = {c: 0.0 for c in TENSOR_CLASSES}
    for name, shape in shapes.items():
        if class_of(name) is not None:
            n = 1
            for dim in shape:
                n *= dim
            shares[class_of(name)] += n / n_weights
    return shares


def _raised(types, reference, tensor_class):
    """Whether any tensor of `tensor_class` has more bits in `types` than in `reference`."""
    return any(
        class_of(n) == tensor_class and FORMATS[types[n]].bits_per_weight > FORMATS[reference[n]].bits_per_weight
        for n in types
    )
