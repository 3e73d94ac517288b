"""The demo: a tiny Qwen2 model built locally, which `make demo` and the end-to-end tests train on the CPU."""
