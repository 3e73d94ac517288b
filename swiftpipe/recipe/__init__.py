"""The recipe model: stages, launch settings, parameters, overrides, scale, checks, and loading a recipe file.

The lowest layer: it imports nothing else of swiftpipe but `errors`.
"""
