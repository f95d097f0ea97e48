"""llama.cpp's mixes (Q4_K_M & co.): per-tensor type rules, model sizes, where the bits go, published tables.

recipes      the rules that give each tensor of a model its GGML type under a mix
sizes        model shapes (presets), bytes of a mix, the KV cache
classes      tensor classes and their shares of weights and bytes; per-layer types; fallbacks
calculator   every mix's weights plus KV cache against a memory budget
published    llama.cpp's published quality and bits-per-weight tables, and the article's, with sources
"""

from . import calculator, classes, published, recipes, sizes

__all__ = ["calculator", "classes", "published", "recipes", "sizes"]
