"""Running a GGUF file in a real llama.cpp: xllamacpp, a prebuilt llama.cpp from PyPI (CPU).

    with Engine("minilm-q4_0.gguf", embedding=True) as engine:
        vectors = engine.embed(SENTENCES)           # (40, 384) float32, unit rows (MEAN pooling)
    with Engine("gemma-q4_k_m.gguf") as engine:
        engine.complete("The quick brown fox", n_predict=16)   # greedy: temperature 0

Every file is read with quantlab's own GGUF reader before llama.cpp sees it: a truncated or
corrupt file raises CorruptFileError here, instead of crashing the C++ loader (which would take the
Python process, or the notebook's kernel, down with it).

xllamacpp is optional (the `runtime` extra): pip install xllamacpp. It gives embeddings and
completions through a server-style API on the loopback address; it gives no raw logits and no
prompt log-probabilities, so no perplexity from it.
"""

import os

import numpy as np

from ..models.weight_files import CorruptFileError, GGUFFile

XLLAMACPP_PIP = "pip install xllamacpp"


def import_xllamacpp():
    """The xllamacpp module, or a ModuleNotFoundError whose message is the pip command."""
    try:
        import xllamacpp
    except ModuleNotFoundError as error:
        if error.name != "xllamacpp":
            raise
        raise ModuleNotFoundError(
            f"running a model in llama.cpp needs the optional package 'xllamacpp'. Install it "
            f"with\n    {XLLAMACPP_PIP}\n(in a notebook: %{XLLAMACPP_PIP}), then restart the "
            f"kernel.",
            name="xllamacpp",
        ) from None
    return xllamacpp


def check_model_file(path):
    """Read the whole header and tensor table with quantlab's reader; refuse what llama.cpp should not see.

    Returns the architecture. Raises FileNotFoundError, or CorruptFileError (a ValueError) naming
    the fault: bad magic, truncated metadata, a tensor running past the end of the file, ...
    """
    with GGUFFile(path) as model:
        architecture = model.architecture
        if architecture is None:
            raise CorruptFileError(f"{path}: no general.architecture key; llama.cpp cannot tell what model it is")
        if architecture == "bert" and "tokenizer.ggml.tokens" not in model.metadata:
            raise CorruptFileError(f"{path}: a BERT file without a vocabulary (tokenizer.ggml.tokens)")
    return architecture


class Engine:
    """One GGUF file loaded in llama.cpp (xllamacpp), for embeddings or greedy completions.

    Use it in a `with` block, or call close(): each engine holds the model in memory. A file
    llama.cpp cannot load (a missing tensor, a wrong shape) raises ValueError.
    flash_attention=False keeps attention in float32 (llama.cpp's flash attention casts K and V
    to F16), so that only the weights and the matmul's activation rounding differ from numpy.
    """

    def __init__(self, path, embedding=False, n_ctx=512, n_threads=1, flash_attention=True, verbose=False):
        self.architecture = check_model_file(path)
        xllamacpp = import_xllamacpp()
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_ctx
        params.n_parallel = 1
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or not 1 <= n_threads <= (os.cpu_count() or 1):
            raise ValueError(f"n_threads={n_threads!r} must be a whole number from 1 to the {os.cpu_count()} cores")
        # one thread by default: ggml's threads wait for each other by spinning, and on a shared
        # machine (Binder, CI, a busy laptop) two threads were 10-20x slower than one here
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = n_threads
        params.verbosity = 3 if verbose else 0  # llama.cpp's log (to the terminal's stderr, not the notebook)
        if not flash_attention:  # flash attention casts K and V to F16; without it attention stays F32
            params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
        if embedding:
            params.embedding = True
            params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        self.path, self.embedding = path, embedding
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as error:  # xllamacpp says only "Failed to init server"
            raise ValueError(
                f"llama.cpp could not load {path} (architecture {self.architecture!r}): a tensor or "
                f"metadata key it needs is missing or has the wrong shape, or this build does not "
                f"know the architecture. Engine(..., verbose=True) prints llama.cpp's log, which "
                f"names the problem, to the terminal ({error})"
            ) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Free the model (llama.cpp's memory is released when the server object goes)."""
        self._server = None

    def _ready(self):
        if self._server is None:
            raise RuntimeError(f"this Engine for {self.path} is closed; open a new one")
        return self._server

    def embed(self, sentences):
        """Sentence embeddings (n, dim) float32 from llama.cpp: mean-pooled, L2-normalized rows."""
        if not self.embedding:
            raise RuntimeError("this Engine was opened without embedding=True; open Engine(path, embedding=True)")
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise TypeError("sentences must be a list of strings, e.g. ['The weather is lovely today.']")
        reply = self._ready().handle_embeddings({"input": list(sentences)})
        if "data" not in reply:
            raise RuntimeError(f"llama.cpp refused the embedding request: {reply}")
        rows = sorted(reply["data"], key=lambda item: item["index"])
        return np.array([row["embedding"] for row in rows], dtype=np.float32)

    def complete(self, prompt, n_predict=32):
        """The greedy continuation (temperature 0) of `prompt`, n_predict tokens at most, as text."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        reply = self._ready().handle_completions(
            {"prompt": prompt, "n_predict": int(n_predict), "temperature": 0, "top_k": 1, "seed": 0}
        )
        if "content" in reply:  # llama.cpp's native reply
            return reply["content"]
        try:  # the OpenAI-style reply this build gives
            return reply["choices"][0]["text"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"llama.cpp refused the completion request: {reply}") from None


RUNTIME_PIP = 'pip install "quantlab[runtime]"'
RUNTIME_PACKAGES = {"xllamacpp": "xllamacpp", "gguf": "gguf"}  # module -> PyPI name (the runtime extra)


def runtime_ready():
    """True if llama.cpp (xllamacpp) and gguf can be imported; otherwise print the pip commands and return False."""
    import importlib.util

    missing = [package for module, package in RUNTIME_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        print(
            "This part runs llama.cpp and needs optional packages. Install them with\n"
            f"    %{RUNTIME_PIP}\n(or the packages alone: %pip install {' '.join(missing)}),\n"
            "then restart the kernel and run the notebook again."
        )
        return False
    return True
