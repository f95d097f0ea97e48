"""Notebook 11's explorer: MiniLM written in a mix you choose, loaded and run by llama.cpp.

This explorer runs llama.cpp (the optional `xllamacpp`, pip install "quantlab[runtime]"): every new
choice writes a GGUF file with quantlab's quantizers (~1 s), loads it in llama.cpp, embeds the 40
fixed sentences there and in numpy, and compares both with FP32 (2-4 s in all). Each choice is
measured once and cached (quantlab.runtime.runs), so going back is instant.

Built on widgets.base.Explorer: controls -> compute() (quantlab.runtime.runs) -> draw/update in
place (quantlab.plots.runtime) -> summary(result) as text (quantlab.runtime.reports).
"""

from ..plots import runtime as runtime_plots
from ..runtime import reports, runs
from .base import Explorer, dropdown

MIXES = (
    "Q8_0",
    "Q6_K",
    "Q5_K_M",
    "Q5_K_S",
    "Q5_1",
    "Q5_0",
    "Q4_K_M",
    "Q4_K_S",
    "Q4_1",
    "Q4_0",
    "Q3_K_M",
    "Q2_K",
    "F16",
)
AS_MIX = "as the mix"
MATRIX_TYPES = (
    "F16",
    "Q8_0",
    "Q5_1",
    "Q5_0",
    "Q4_1",
    "Q4_0",
    "IQ4_NL",
)  # 32-weight blocks: every MiniLM row takes them
EMBEDDING_TYPES = ("F32", *MATRIX_TYPES)


class MiniLMFileExplorer(Explorer):
    """Choose a llama.cpp mix for MiniLM, then override its token embedding or its 36 encoder matrices.

    Left: each sentence's 1 - cosine to FP32 (log), as llama.cpp computes it from the file (dots)
    and as quantlab's numpy MiniLM computes it from the same file's weights (crosses); dashed:
    cosine 0.99. Right: the file's size on disk beside the all-F32 file's.
    """

    def __init__(self, mix="Q4_K_M", token_embd=None, matrices=None):
        if mix not in MIXES:
            raise ValueError(f"mix={mix!r} is not offered; choose one of {', '.join(MIXES)}")
        for name, value, offered in (("token_embd", token_embd, EMBEDDING_TYPES), ("matrices", matrices, MATRIX_TYPES)):
            if value is not None and value not in offered:
                raise ValueError(f"{name}={value!r}; choose None (as the mix) or one of {', '.join(offered)}")
        self.runner = runs.minilm_runner()
        controls = {
            "mix": dropdown("llama.cpp mix", mix, list(MIXES), "190px"),
            "token_embd": dropdown("token_embd", token_embd or AS_MIX, [AS_MIX, *EMBEDDING_TYPES], "210px"),
            "matrices": dropdown("36 encoder matrices", matrices or AS_MIX, [AS_MIX, *MATRIX_TYPES], "260px"),
        }
        super().__init__(controls, n_panels=2, width=8.6, height=3.0, readout_width=330)

    def to_setting(self, name, value):
        return None if value == AS_MIX else value

    def to_widget(self, name, value):
        return AS_MIX if value is None and name != "mix" else value

    def overrides(self):
        """{role: type} from the two override dropdowns (the encoder matrices by their six roles)."""
        settings = self.settings
        chosen = {}
        if settings["matrices"] is not None:
            chosen.update({role: settings["matrices"] for role in runs.ROLES if role != "token_embd"})
        if settings["token_embd"] is not None:
            chosen["token_embd"] = settings["token_embd"]
        return chosen

    def compute(self):
        settings = self.settings
        label = ", ".join(
            [settings["mix"]]
            + [f"{name} {settings[name]}" for name in ("token_embd", "matrices") if settings[name] is not None]
        )
        return self.runner.run_types(runs.choice_plan(settings["mix"], self.overrides()), label)

    def draw(self, run):
        self.axes[0].set_position([0.08, 0.16, 0.55, 0.74])
        self.axes[1].set_position([0.76, 0.16, 0.21, 0.74])
        return (
            runtime_plots.draw_sentence_fidelity(len(self.runner.sentences), self.axes[0], runs.THRESHOLD),
            runtime_plots.draw_file_size(self.runner.f32_bytes(), self.axes[1]),
        )

    def update(self, run):
        fidelity_panel, size_panel = self.panels
        fidelity_panel.update(
            run.cosine_llama,
            run.cosine_numpy,
            title=f"{run.label}: worst cosine {run.cosine_llama.min():.4f} in llama.cpp",
        )
        size_panel.update(run.n_bytes, title=f"{run.bits_per_weight:.2f} bits/weight")

    def summary(self, run):
        return reports.run_text(run, self.runner.f32_bytes())
