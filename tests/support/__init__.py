"""Reusable pieces for tests: a tiny local GGUF model, a real llama.cpp server, the real client CLIs
(Claude Code, also in its TUI under tmux; Codex; Gemini CLI) and the requests captured from them."""
