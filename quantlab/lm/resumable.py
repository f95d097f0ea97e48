"""The character model's forward pass resumed after an unchanged prefix: a setting that changes only later matrices
costs only the steps from the first changed one (the quality explorer's fast path, bit for bit CharLM.logits).

CharLM.stages() splits the forward pass into steps (embedding; each block's attention and feed-forward; the
output head), each reading a few tensors. Before each step the residual stream x depends only on the ids and on
the tensors the earlier steps read, so it is kept, keyed by those tensors' fingerprints (a hash of their bytes),
and a later model whose earlier tensors have the same fingerprints starts from it. Same numpy operations on the
same numbers, so the same bits: an output-only change costs one small matrix product instead of 19.

    resumable = ResumableLogits(budget_bytes=64 << 20)     # one cache of residual streams, bounded
    evaluate(resumable.bind(model, fingerprints), text)     # what evaluate(model, text) gives, bit for bit

fingerprints: {tensor name: anything hashable that differs whenever the tensor's values differ}, for every
tensor of the model (quality.QualityMeter passes (type, sha256 of the quantized bytes)).
"""

import hashlib
from collections import OrderedDict

import numpy as np


class ResumableLogits:
    """A bounded cache of residual streams, shared by the models bound to it (least recently used go first)."""

    def __init__(self, budget_bytes=64 << 20):
        if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, (int, np.integer)) or budget_bytes < 0:
            raise ValueError(f"budget_bytes={budget_bytes!r} must be a non-negative integer (0 keeps nothing)")
        self.budget_bytes = int(budget_bytes)
        self._streams = OrderedDict()  # {(ids key, step index, fingerprints of the tensors read before it): x}
        self.steps_run = 0  # how many steps were computed (the rest were resumed from the cache)
        self.steps_skipped = 0

    @property
    def n_bytes(self):
        return sum(x.nbytes for x in self._streams.values())

    def bind(self, model, fingerprints):
        """A stand-in for `model` in lm.evaluation.evaluate (config, encode, logits) that resumes from this cache."""
        missing = [name for name in model.tensor_shapes() if name not in fingerprints]
        if missing:
            raise ValueError(f"fingerprints lack {len(missing)} tensor(s), e.g. {missing[:3]}; give one per tensor")
        return _Bound(self, model, dict(fingerprints))

    def logits(self, model, ids, fingerprints):
        """model.logits(ids), bit for bit, starting after the longest prefix of steps already run on these ids."""
        ids = model._checked_ids(ids)  # noqa: SLF001 - the model's own check, same folder
        batch = ids.reshape(-1, ids.shape[-1])
        ids_key = (batch.shape, hashlib.sha256(batch.tobytes()).hexdigest())
        steps = model.stages(batch.shape)
        read = [tuple(fingerprints[name] for name in names) for names, _ in steps]
        keys = [(ids_key, s, tuple(read[:s])) for s in range(len(steps))]
        start, x = 0, batch
        for s in range(len(steps) - 1, 0, -1):  # the latest step whose input is kept
            if keys[s] in self._streams:
                start, x = s, self._streams[keys[s]]
                self._streams.move_to_end(keys[s])
                break
        for s in range(start, len(steps)):
            if s > start:
                self._keep(keys[s], x)
            x = steps[s][1](x)
        self.steps_run += len(steps) - start
        self.steps_skipped += start
        return x.reshape(ids.shape + (model.vocab_size,))

    def _keep(self, key, x):
        if x.nbytes > self.budget_bytes:
            return
        x.setflags(write=False)  # the steps make new arrays; a kept stream is never written
        self._streams[key] = x
        while self.n_bytes > self.budget_bytes:
            self._streams.popitem(last=False)


class _Bound:
    """A model bound to a ResumableLogits: what evaluate() uses of a CharLM (config, encode, logits)."""

    def __init__(self, cache, model, fingerprints):
        self.cache, self.model, self.config, self.fingerprints = cache, model, model.config, fingerprints

    def encode(self, text, errors="strict"):
        return self.model.encode(text, errors=errors)

    def logits(self, ids):
        return self.cache.logits(self.model, ids, self.fingerprints)
