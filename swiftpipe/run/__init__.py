"""Running a chain: the chain loop, one stage, reference resolution, the run record, ms-swift's folder layout,
processes, watching, pre-flight and chat. Where a stage runs is a `Launcher` handed in; this package imports
nothing from `slurm/`.
"""
