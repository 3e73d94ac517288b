"""Slurm: one sbatch job per stage, chained with --dependency=afterok, tracked in the same run records as local
runs. `options` (what the user asks for, per stage resources), `script` (the sbatch text), `client` (sbatch,
squeue, scontrol, scancel), `chain` (submit, refresh, cancel, wait) and `job` (a stage inside its allocation).
"""
