"""What the benchmarks measure of a run beyond its record: the seconds of each epoch.

A run record (:func:`mmrec_lib.experiments.sequential.run_sequential`,
:func:`mmrec_lib.experiments.rating.run_rating`) carries the epochs run and the total
training seconds, not each epoch's seconds. The benchmarks report the median epoch
(sequential) or the selection run's mean epoch (rating, whose total also holds the refit),
so they read them from the :class:`~mmrec_lib.models.training.History` each call of the shared
training loop returns: :func:`fit_histories` collects those while a run computes.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator


@contextlib.contextmanager
def fit_histories() -> Iterator[list]:
    """The History of every :func:`mmrec_lib.models.training.fit` call made inside the block,
    in call order (the run functions import ``fit`` from that module when they run)."""
    from mmrec_lib.models import training

    histories: list = []
    original = training.fit

    def recording(*args, **kwargs):
        history = original(*args, **kwargs)
        histories.append(history)
        return history

    training.fit = recording
    try:
        yield histories
    finally:
        training.fit = original


def expect_histories(histories: list, count: int, what: str) -> list:
    """``histories`` when the hook saw ``count`` training runs; RuntimeError otherwise."""
    if len(histories) != count:
        raise RuntimeError(
            f"{what}: expected {count} training run(s), saw {len(histories)}; does the run "
            "function still call mmrec_lib.models.training.fit through that module?"
        )
    return histories


def fresh_checkpoints(config: dict) -> None:
    """Delete a checkpoint an interrupted run of ``config`` left, so the benchmark trains (and
    times) every epoch from scratch instead of resuming."""
    from mmrec_lib.experiments.store import run_key
    from mmrec_lib.paths import cache_dir

    shutil.rmtree(cache_dir("checkpoints", run_key(config)), ignore_errors=True)
