"""Complete GGUF model files written by quantlab, and runs of them in a real llama.cpp (optional extra).

- writing.py: a type for every tensor, checked; the file streamed through gguf.GGUFWriter.
- minilm_file.py: all-MiniLM-L6-v2 as a BERT file llama.cpp loads, in any mix.
- rewrite.py: an existing GGUF file (Gemma 3 270M) rewritten into another mix, by rows.
- engine.py: llama.cpp through xllamacpp (pip install xllamacpp): embeddings, greedy completions.
- ggml_cpu.py: MiniLM in numpy with the roundings llama.cpp's CPU matmul adds (activations to Q8).
- fidelity.py: one MiniLM file in llama.cpp vs numpy vs FP32.
- generation.py: fixed prompts completed greedily; where two continuations part.

- runs.py: MiniLM written in a chosen mix and run in llama.cpp, cached per choice (notebook 11).
- reports.py: the notebook's text (tables of fidelity, sizes, completions).

Nothing here is needed by the rest of quantlab; xllamacpp is imported only when a model is run.
runtime_ready() says whether it is installed (and, if not, prints the pip command).
"""

from .engine import RUNTIME_PIP, Engine, runtime_ready

__all__ = ["RUNTIME_PIP", "Engine", "runtime_ready"]
