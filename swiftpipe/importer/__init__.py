"""Import: the scripts and configs people already have (shell, ms-swift's Python API, LLaMA-Factory, xtuner) become
recipes that render for ms-swift 3 and 4."""
