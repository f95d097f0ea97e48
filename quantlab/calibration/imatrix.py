"""llama.cpp's importance matrix: per input column, the mean of x_j^2 over calibration tokens.

What tools/imatrix/imatrix.cpp collects, for every matrix multiplication y = W x of a model:
- for each token's input row x (the activations entering the layer), acc[j] += x[j] * x[j], in
  float32, token after token, for every column j; and count += 1 per token;
- batches of fewer than 16 tokens are ignored ("why are small batches ignored (<16 tokens)?" says
  the source: it skips any multiplication whose input has fewer than 16 rows);
- the GGUF file stores the sums and the counts; llama-quantize divides, imatrix[j] = acc[j] / count
  (tools/quantize/quantize.cpp; the legacy .dat format stores (acc / count) * ncall and divides by
  ncall, giving the same mean).
So imatrix[j] = mean over tokens of x_j^2: the diagonal of X X^T / n_tokens, i.e. of GPTQ's
Hessian H = 2 X X^T / n_tokens up to the factor 2. It keeps only the diagonal: how much each input
column matters, not how columns move together.

The quantizer then weighs the error of weight w_ij by imatrix[j] (times a type-dependent factor,
see quantlab.ggml.weighted): quantlab.ggml.quantize(w, "Q4_K", imatrix=collect(inputs)).
"""

import numpy as np

from .._validate import as_float_array

MIN_BATCH_TOKENS = 16  # imatrix.cpp: `if (src1->ne[1] < 16 ...) return false`


class ImatrixCollector:
    """Accumulates sum_t x_tj^2 and the token count over batches, as llama.cpp's imatrix tool.

    collector = ImatrixCollector(in_features)
    for batch in batches: collector.update(batch)      # (n_tokens, in_features)
    importance = collector.importance()                # float32 (in_features,)
    """

    def __init__(self, in_features, min_batch_tokens=MIN_BATCH_TOKENS):
        if isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) or in_features < 1:
            raise ValueError(
                f"in_features={in_features!r} must be a positive integer: the layer's number of input columns"
            )
        self.sums = np.zeros(int(in_features), dtype=np.float32)
        self.count = 0
        self.min_batch_tokens = int(min_batch_tokens)

    def update(self, inputs):
        """Add a batch (n_tokens, in_features); returns False if it was skipped (< min_batch_tokens rows)."""
        batch = as_float_array(inputs, "inputs")
        batch = batch.reshape(-1, batch.shape[-1]) if batch.ndim > 1 else batch[None, :]
        if batch.shape[1] != self.sums.size:
            raise ValueError(
                f"inputs have {batch.shape[1]} features per token but this collector counts "
                f"{self.sums.size} columns; pass the activations entering this layer"
            )
        if len(batch) < self.min_batch_tokens:
            return False
        batch = batch.astype(np.float32)
        with np.errstate(over="ignore"):
            squares = np.concatenate([self.sums[None, :], batch * batch])
            self.sums = np.cumsum(squares, axis=0, dtype=np.float32)[-1]  # acc[j] += x*x, in order
        if not np.isfinite(self.sums).all():
            raise ValueError(
                "the sums of x^2 overflowed float32 (imatrix.cpp stops on non-finite values "
                "too); are these activations in their real scale?"
            )
        self.count += len(batch)
        return True

    def importance(self):
        """imatrix[j] = sums[j] / count in float32, as llama-quantize loads it."""
        if self.count == 0:
            raise ValueError(
                f"no tokens collected; every batch had fewer than {self.min_batch_tokens} "
                f"tokens (llama.cpp ignores those) or none was given"
            )
        return self.sums / np.float32(self.count)


def collect(inputs, min_batch_tokens=MIN_BATCH_TOKENS):
    """The importance matrix of one layer from its calibration inputs (n_tokens, in_features), one batch."""
    batch = as_float_array(inputs, "inputs")
    if batch.ndim not in (2, 3):
        raise ValueError(f"inputs has shape {batch.shape}; pass one row per token, (n_tokens, in_features)")
    collector = ImatrixCollector(batch.shape[-1], min_batch_tokens)
    collector.update(batch)
    return collector.importance()


def for_char_lm(model, ids, include_output=False):
    """{tensor name: importance} for every linear layer of the character model, from ids (n, length).

    As llama.cpp's imatrix tool: the matrices of the blocks (blk.*), and the output head only with
    include_output (its --process-output); the embedding is a lookup, not a product, and has none.
    Calibrate on training text: an imatrix from the evaluation text flatters the score.
    """
    inputs = {}
    model.logits(ids, inputs_of=inputs)
    return {
        name: collect(rows)
        for name, rows in inputs.items()
        if name.startswith("blk.") or (include_output and name == "output.weight")
    }
