"""Rendering: a recipe's stages as ms-swift commands and scripts, for ms-swift 3 or 4 (pure: no processes).

Imports the recipe model only; the Jinja templates live in the repository's top-level `templates/`.
"""
