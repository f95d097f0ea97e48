"""Rewrite an existing GGUF model (Gemma 3 270M) into another mix: re-quantization of a quantized model.

    info = rewrite_gguf(open_gemma(), "gemma-q8_0.gguf", mix="Q8_0")
    info = rewrite_gguf(open_gemma(), "gemma-mine.gguf", types={"blk.0.ffn_down.weight": "Q4_0"})

What this is, plainly: the packaged Gemma file is already Q4_K_M. Its full-precision weights are
not in it, so every other mix is made from the *decoded Q4_K_M weights*: a Q8_0 rewrite cannot
recover what Q4_K_M rounded away (it only adds Q8_0's own small rounding on top), and a Q3_K
rewrite rounds an already-rounded grid onto a coarser one. Real llama.cpp users quantize from the
BF16/F32 checkpoint; numbers here measure "this file, rounded again".

A tensor whose new type equals its stored type is copied byte for byte (decoding and quantizing
again would not in general give the same bytes). Others are decoded and re-quantized a chunk of
rows at a time, so the 262,144 x 640 embedding never exists whole as float32. Metadata (the
tokenizer with its 262,144 tokens included) is copied key by key with its GGUF value types;
general.file_type becomes the new mix's.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..mixes import recipes
from ..models.weight_files import GGUFFile
from .writing import FILE_TYPES, TensorToWrite, check_plan, check_writable, file_type, tensor_bytes, write_gguf


@dataclass(frozen=True)
class RewrittenFile:
    """A rewritten model file: its path, types, size, and how many tensors were copied unchanged."""

    path: Path
    types: dict  # {GGUF name: type}
    n_bytes: int
    n_copied: int  # tensors whose bytes were copied (same type as the source)
    n_requantized: int  # tensors decoded and quantized again


def plan(source, types=None, mix=None, rules="2026"):
    """{GGUF name: type} for every tensor of `source`: a llama.cpp mix, one type, or {name: type}.

    mix: llama.cpp's rules (quantlab.recipes.choose_types with the file's hyperparameters) and
    their fallbacks. types="Q8_0": that type for every tensor llama.cpp would quantize (others
    keep their stored type). types={name: type}: only the named tensors change.
    """
    shapes = {name: t.shape for name, t in source.tensors.items()}
    if (types is None) == (mix is None):
        raise TypeError(
            "pass exactly one of types= (a GGML type such as 'Q8_0', or {tensor name: type}) "
            "and mix= (a llama.cpp mix such as 'Q4_K_M')"
        )
    chosen = source.types()
    if mix is not None:
        if not isinstance(mix, str) or mix.upper() not in recipes.BASE_TYPES:
            raise ValueError(f"mix={mix!r} is not a llama.cpp mix; choose one of {', '.join(recipes.MIXES)}")
        chosen.update(recipes.choose_types(source.gguf_shapes(), mix.upper(), rules=rules, **source.hparams()))
        return chosen
    if isinstance(types, str):
        types = {name: types for name, t in source.tensors.items() if recipes.quantizable(name, t.gguf_shape)}
    elif not hasattr(types, "items"):
        raise TypeError(
            f"types must be a GGML type name such as 'Q8_0' or a map {{GGUF tensor name: type}}, "
            f"got {type(types).__name__}"
        )
    chosen.update(check_plan(types, shapes))
    return chosen


def _copy_metadata(source, writer, new_file_type):
    import gguf

    for key, value in source.metadata.items():
        if key == "general.architecture":  # the writer adds it
            continue
        if key == "general.alignment":
            writer.add_custom_alignment(int(value))
            continue
        if key == "general.file_type":
            value = new_file_type
        kind, item_kind = source.metadata_types[key]
        if isinstance(value, np.ndarray):
            value = value.tolist()
        writer.add_key_value(
            key, value, gguf.GGUFValueType(kind), sub_type=None if item_kind is None else gguf.GGUFValueType(item_kind)
        )


def _requantized(source, name, type_name, chunk_rows):
    """The tensor decoded and quantized to type_name, chunk_rows rows at a time, into one byte array."""
    tensor = source.tensors[name]
    out = None
    for start, rows in source.iter_rows(name, chunk_rows):  # float32 for chunk_rows rows at a time
        data = tensor_bytes(rows, type_name)
        if out is None:
            out = np.empty((tensor.n_rows, data.shape[1]), np.uint8)
        out[start : start + len(rows)] = data
    return out


def rewrite_gguf(source, path, types=None, mix=None, rules="2026", chunk_rows=16384):
    """Write `source` (a GGUFFile or a path) to `path` in another mix; see the module docstring."""
    path = check_writable(path)
    if not isinstance(source, GGUFFile):
        source = GGUFFile(source)
    if Path(path).resolve() == Path(source.path).resolve():
        raise ValueError(f"path={str(path)!r} is the source file itself; write the rewrite to a new file")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise ValueError(f"chunk_rows={chunk_rows!r} must be a positive whole number of rows, e.g. 16384")
    chosen = plan(source, types, mix, rules)
    stored = source.types()
    tensors = []
    for name, tensor in source.tensors.items():
        if chosen[name] == stored[name]:
            make = lambda name=name: source.raw_rows(name)  # same type: same bytes
        else:
            make = lambda name=name: _requantized(source, name, chosen[name], chunk_rows)
        tensors.append(TensorToWrite(name, tensor.shape, chosen[name], make))
    mix_name = mix.upper() if mix is not None else None
    new_file_type = FILE_TYPES[mix_name] if mix_name else file_type(chosen)
    n_bytes = write_gguf(
        path, source.architecture, lambda writer: _copy_metadata(source, writer, new_file_type), tensors
    )
    n_copied = sum(chosen[name] == stored[name] for name in chosen)
    return RewrittenFile(path, chosen, n_bytes, n_copied, len(chosen) - n_copied)
