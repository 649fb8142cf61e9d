"""Reusable pieces for tests: a tiny local GGUF model, a real llama.cpp server, the real Claude Code CLI."""
