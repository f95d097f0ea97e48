"""GGUF block formats, bit-exact with llama.cpp (public API lands here; see registry.py)."""
