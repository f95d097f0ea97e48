"""Write quantlab/assets/ggml_iquant_grids.npz from llama.cpp's ggml-common.h (run once, by hand).

    python tools/extract_iquant_grids.py path/to/ggml/src/ggml-common.h <llama.cpp revision>

The i-quant grids are data, not code: tables of grid points packed into integers, one byte per
coordinate (uint64 = 8 coordinates, uint32 = 4). This unpacks each table to int8 (n_points, dim)
and stores it with the file and revision it came from. The revision used for the stored asset is
llama.cpp 0c1e57098bba43ac29e6e3b677cdceebdd22334f (vendored in llama-cpp-python 0.3.36).
"""

import re
import sys
from pathlib import Path

import numpy as np

TABLES = {  # name in ggml-common.h -> (integer type, coordinates per point)
    "iq2xxs_grid": (np.uint64, 8),
    "iq2xs_grid": (np.uint64, 8),
    "iq2s_grid": (np.uint64, 8),
    "iq3xxs_grid": (np.uint32, 4),
    "iq3s_grid": (np.uint32, 4),
    "iq1s_grid": (np.uint64, 8),
    "ksigns_iq2xs": (np.uint8, 1),
}


def table(source, name):
    body = re.search(rf"GGML_TABLE_BEGIN\(\w+, {name}, \w+\)(.*?)GGML_TABLE_END", source, re.S).group(1)
    return [int(token, 0) for token in re.findall(r"0x[0-9a-fA-F]+|\b\d+\b", body)]


def main(header, revision):
    source = Path(header).read_text()
    arrays = {}
    for name, (dtype, dim) in TABLES.items():
        packed = np.array(table(source, name), dtype=dtype)
        arrays[name] = packed.view(np.int8).reshape(len(packed), dim) if dim > 1 else packed
    arrays["source"] = np.array(f"llama.cpp ggml/src/ggml-common.h @ {revision}")
    out = Path(__file__).resolve().parents[1] / "quantlab" / "assets" / "ggml_iquant_grids.npz"
    np.savez_compressed(out, **arrays)
    print(out, {name: a.shape for name, a in arrays.items()})


if __name__ == "__main__":
    main(*sys.argv[1:3])
