"""quantlab's small character-level Shakespeare transformer, run in numpy (float32, vectorized).

training/train_char_lm.py trains it with torch; only numpy runs it here. The tensors carry
llama.cpp's GGUF names (token_embd.weight, blk.0.attn_q.weight, ..., output.weight), so a
quantization mix can be applied by name: `model.with_weights({name: dequantized array})`.
Architecture: pre-RMSNorm decoder, fixed sinusoidal positions, causal attention, GELU MLP, no
biases, untied output head; every matrix row (input width) is 256 or 1024 long.
"""

import json
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

import numpy as np

from .._validate import as_float_array
from ..nn import softmax

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class CharLMConfig:
    """The architecture: sizes, context length, and the vocabulary (one character per id)."""

    n_layer: int
    n_head: int
    d_model: int
    d_ff: int
    context_length: int
    norm_eps: float
    vocabulary: str
    unknown_symbol: str

    @classmethod
    def from_card(cls, card):
        """Read the architecture from the model card (char_lm.json) the training script writes."""
        arch = card["architecture"]
        sizes = {key: arch[key] for key in ("n_layer", "n_head", "d_model", "d_ff", "context_length", "norm_eps")}
        return cls(**sizes, vocabulary=card["vocabulary"], unknown_symbol=card["unknown_symbol"])

    def tensor_shapes(self):
        """{GGUF tensor name: shape}; matrices are (output width, input width), rows along the input."""
        d, vocab = self.d_model, len(self.vocabulary)
        shapes = {"token_embd.weight": (vocab, d)}
        for i in range(self.n_layer):
            shapes |= {
                f"blk.{i}.attn_norm.weight": (d,),
                f"blk.{i}.attn_q.weight": (d, d),
                f"blk.{i}.attn_k.weight": (d, d),
                f"blk.{i}.attn_v.weight": (d, d),
                f"blk.{i}.attn_output.weight": (d, d),
                f"blk.{i}.ffn_norm.weight": (d,),
                f"blk.{i}.ffn_up.weight": (self.d_ff, d),
                f"blk.{i}.ffn_down.weight": (d, self.d_ff),
            }
        return shapes | {"output_norm.weight": (d,), "output.weight": (vocab, d)}


def sinusoidal_positions(length, width):
    """Vaswani et al.'s fixed table: sin on even columns, cos on odd, wavelengths 2 pi .. 10000 * 2 pi."""
    position = np.arange(length)[:, None]
    frequency = 10000.0 ** (-np.arange(0, width, 2) / width)
    table = np.zeros((length, width))
    table[:, 0::2], table[:, 1::2] = np.sin(position * frequency), np.cos(position * frequency)
    return table.astype(np.float32)


def rms_norm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * weight, over the last axis."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + np.float32(eps)) * weight


def causal_mask(length):
    """(length, length) float32: 0 where position t may see position s (s <= t), -inf above the diagonal."""
    return np.triu(np.full((length, length), -np.inf, dtype=np.float32), k=1)


def gelu(x):
    """GELU in its tanh form (as GPT-2 and torch's approximate='tanh')."""
    return np.float32(0.5) * x * (1 + np.tanh(np.float32(np.sqrt(2 / np.pi)) * (x + np.float32(0.044715) * x * x * x)))


def gelu_by_rows(x, rows=256):
    """gelu(x) for a 2-D x, `rows` rows at a time: the same numbers (elementwise), with temporaries small enough
    to stay in cache (the forward pass's (4096, 1024) activations: 2x faster than one gelu(x))."""
    out = np.empty_like(x)
    for start in range(0, len(x), rows):
        out[start : start + rows] = gelu(x[start : start + rows])
    return out


class CharLM:
    """The model: a config plus a {GGUF name: float32 array} dict; logits() runs it."""

    def __init__(self, weights, config):
        self.config = config
        self._weights = self._checked(weights, config.tensor_shapes(), require_all=True)
        self._positions = sinusoidal_positions(config.context_length, config.d_model)

    @classmethod
    def load(cls, folder=None):
        """The committed model (quantlab/assets/char_lm.npz + char_lm.json), or one in `folder`."""
        folder = ASSETS if folder is None else Path(folder)
        card = json.loads((folder / "char_lm.json").read_text(encoding="utf-8"))
        with np.load(folder / "char_lm.npz", allow_pickle=False) as archive:
            weights = {name: archive[name] for name in archive.files}
        return cls(weights, CharLMConfig.from_card(card))

    @property
    def vocab_size(self):
        return len(self.config.vocabulary)

    @property
    def weights(self):
        """{GGUF name: read-only float32 array}; change weights with with_weights(), not in place."""
        return dict(self._weights)

    def tensor_shapes(self):
        """{GGUF name: shape} in numpy order (rows, row length): recipes.choose_types(..., shape_order="numpy")."""
        return self.config.tensor_shapes()

    def with_weights(self, replacements):
        """A new model with the named tensors replaced (e.g. by their quantized-then-dequantized copies)."""
        if not isinstance(replacements, dict):
            raise TypeError(f"replacements must be a dict {{tensor name: array}}, got {type(replacements).__name__}")
        new = object.__new__(CharLM)
        new.config, new._positions = self.config, self._positions
        new._weights = self._weights | self._checked(replacements, self.config.tensor_shapes(), require_all=False)
        return new

    @staticmethod
    def _checked(weights, shapes, require_all):
        missing = [name for name in shapes if name not in weights]
        if require_all and missing:
            raise ValueError(
                f"weights lack {len(missing)} tensor(s), e.g. {missing[:3]}; pass all of {len(shapes)} tensors"
            )
        checked = {}
        for name, array in weights.items():
            if name not in shapes:
                hint = get_close_matches(str(name), list(shapes), n=1)
                suggestion = f"did you mean {hint[0]!r}?" if hint else "see model.tensor_shapes() for the names"
                raise ValueError(f"{name!r} is not a tensor of this model; {suggestion}")
            array = as_float_array(array, name).astype(np.float32)  # refuses ints, NaN, inf, empty
            if array.shape != shapes[name]:
                raise ValueError(
                    f"{name} has shape {array.shape} but the model needs {shapes[name]}; reshape the dequantized tensor"
                )
            array.setflags(write=False)
            checked[name] = array
        return checked

    def encode(self, text, errors="strict"):
        """Character ids of `text`. errors='strict' refuses characters outside the vocabulary;
        errors='replace' maps them to the unknown symbol, as the training script did."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if errors not in ("strict", "replace"):
            raise ValueError(f"errors={errors!r}; use 'strict' (raise) or 'replace' (map to the unknown symbol)")
        vocabulary = self.config.vocabulary
        unknown = sorted(set(text) - set(vocabulary))
        if unknown and errors == "strict":
            shown = "".join(unknown[:10])
            raise ValueError(
                f"text has {len(unknown)} character(s) outside the vocabulary ({shown!r}); "
                f"pass errors='replace' to map them to {self.config.unknown_symbol!r}"
            )
        index = {c: i for i, c in enumerate(vocabulary)}
        unknown_id = vocabulary.index(self.config.unknown_symbol)
        return np.array([index.get(c, unknown_id) for c in text], dtype=np.int64)

    def decode(self, ids):
        """The text of a sequence of ids."""
        return "".join(self.config.vocabulary[i] for i in self._checked_ids(ids, any_length=True).reshape(-1))

    def _checked_ids(self, ids, any_length=False):
        if isinstance(ids, str):
            raise TypeError("ids must be integer character ids, not a str; use model.encode(text) first")
        ids = np.asarray(ids)
        if ids.size == 0:
            raise ValueError("ids is empty; pass at least one character id (e.g. model.encode('To be'))")
        if ids.dtype.kind not in "iu":
            raise TypeError(f"ids has dtype {ids.dtype}; pass integer character ids from model.encode(text)")
        if ids.ndim not in (1, 2):
            raise ValueError(f"ids has shape {ids.shape}; pass (length,) or (batch, length)")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(
                f"ids range over {ids.min()}..{ids.max()} but the vocabulary has ids 0..{self.vocab_size - 1}"
            )
        if not any_length and ids.shape[-1] > self.config.context_length:
            raise ValueError(
                f"{ids.shape[-1]} characters exceed the context length {self.config.context_length}; split into windows"
            )
        return ids

    def logits(self, ids, inputs_of=None, linear=None):
        """Next-character logits, float32 of shape ids.shape + (vocab_size,): position t sees ids[..., :t+1].

        inputs_of: optionally a dict, filled with {matrix name: the float32 rows (n_tokens, row
        length) it multiplied}, the calibration inputs of every linear layer (GPTQ's Hessian, the
        importance matrix, AWQ's statistic; see quantlab.calibration).
        linear(x, weight, None, name), if given, computes every block's matmul x @ weight.T instead
        (quantlab.activations records or quantizes the inputs this way); the output head stays as is.
        """
        ids = self._checked_ids(ids)
        batch = ids.reshape(-1, ids.shape[-1])
        w = self._weights

        def matmul(rows, name, hooked=True):  # rows @ W^T, noting the rows as this matrix's inputs if asked
            if inputs_of is not None:
                inputs_of[name] = rows
            if linear is not None and hooked:
                return linear(rows, w[name], None, name)
            return rows @ w[name].T

        x = batch
        for _, step in self.stages(batch.shape, matmul):
            x = step(x)
        return x.reshape(ids.shape + (self.vocab_size,))

    def stages(self, batch_shape, matmul=None):
        """The forward pass as steps [(names of the tensors it reads, step)] that logits() runs in order: the
        embedding (ids -> residual stream x), then each block's attention and feed-forward (x -> x), then the
        output head (x -> logits). quantlab.lm.resumable re-runs only the steps after an unchanged prefix.

        batch_shape: (windows, length) of the ids; matmul(rows, name, hooked=True) computes rows @ W^T
        (default: exactly that, with this model's weights).
        """
        w, cfg = self._weights, self.config
        n, length = batch_shape
        width, head = cfg.d_model, cfg.d_model // cfg.n_head
        matmul = matmul or (lambda rows, name, hooked=True: rows @ w[name].T)
        mask = causal_mask(length)  # position t sees 0..t

        def embed(batch):
            return (w["token_embd.weight"][batch] + self._positions[:length]).reshape(n * length, width)

        def split_heads(y):  # (n * length, width) -> (n, heads, length, head)
            return y.reshape(n, length, cfg.n_head, head).transpose(0, 2, 1, 3)

        def attention(i):
            def step(x):
                h = rms_norm(x, w[f"blk.{i}.attn_norm.weight"], cfg.norm_eps)
                q, k, v = (split_heads(matmul(h, f"blk.{i}.attn_{name}.weight")) for name in "qkv")
                scores = q @ k.transpose(0, 1, 3, 2)
                scores *= np.float32(1 / np.sqrt(head))
                scores += mask
                attended = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(n * length, width)
                return x + matmul(attended, f"blk.{i}.attn_output.weight")

            return step

        def feed_forward(i):
            def step(x):
                h = rms_norm(x, w[f"blk.{i}.ffn_norm.weight"], cfg.norm_eps)
                return x + matmul(gelu_by_rows(matmul(h, f"blk.{i}.ffn_up.weight")), f"blk.{i}.ffn_down.weight")

            return step

        def output(x):
            return matmul(rms_norm(x, w["output_norm.weight"], cfg.norm_eps), "output.weight", hooked=False)

        def names(i, kinds):
            return tuple(f"blk.{i}.{kind}.weight" for kind in kinds)

        steps = [(("token_embd.weight",), embed)]
        for i in range(cfg.n_layer):
            steps.append((names(i, ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output")), attention(i)))
            steps.append((names(i, ("ffn_norm", "ffn_up", "ffn_down")), feed_forward(i)))
        return steps + [(("output_norm.weight", "output.weight"), output)]

    def generate(self, prompt, n_chars=200, temperature=0.8, seed=0):
        """Sample `n_chars` characters after `prompt` (seeded), to hear what a quantized model says."""
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} must be > 0; small values (0.1) are nearly greedy")
        rng = np.random.default_rng(seed)
        ids = list(self.encode(prompt, errors="replace"))
        if not ids:
            raise ValueError("prompt is empty; start from at least one character, e.g. '\\n'")
        for _ in range(n_chars):
            logits = self.logits(np.array(ids[-self.config.context_length :]))[-1].astype(np.float64)
            ids.append(int(rng.choice(self.vocab_size, p=softmax(logits / temperature))))
        return self.decode(np.array(ids))
