"""Slurm: one sbatch job per stage, chained with --dependency=afterok, tracked in the same run records as local
runs. `options` (what the user asks for, per stage resources), `script` (the sbatch text, and its export),
`client` (sbatch, squeue, scontrol, scancel), `submit` (submit, refresh, cancel, wait) and `job` (a stage inside
its allocation, through the run package's StageRunner with its own launcher). Imports run/, never the reverse.
"""
