"""The report page: one self-contained HTML file per run (the chain, curves, commands, scores, answers)."""
