"""Benchmarks time every epoch from scratch: a checkpoint left by an interrupted run of the
same config would make the run function resume from it instead."""

from __future__ import annotations

import shutil


def fresh_checkpoints(config: dict) -> None:
    """Delete the checkpoint an interrupted run of ``config`` left behind, if any."""
    from mmrec_lib.experiments.store import run_key
    from mmrec_lib.paths import cache_dir

    shutil.rmtree(cache_dir("checkpoints", run_key(config)), ignore_errors=True)
