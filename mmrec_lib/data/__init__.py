"""Datasets by name: ``load_dataset("ml-100k")`` returns a :class:`Dataset`.

Real data is read from the local mirror (``MMREC_DATA_DIR``) or the download cache, and
downloaded with SHA-256 checks otherwise (see :mod:`mmrec_lib.data.download`);
``"synthetic"`` needs no data at all.
"""

from __future__ import annotations

from collections.abc import Callable

from mmrec_lib.data.amazon import load_amazon_fashion
from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.download import ChecksumError, DataNotFoundError
from mmrec_lib.data.movielens import (
    load_ml_1m,
    load_ml_20m,
    load_ml_25m,
    load_ml_100k,
    load_ml_latest_small,
    load_tag_genome,
)


def load_synthetic(size: str = "small", seed: int = 0, **overrides) -> Dataset:
    """A generated dataset with planted structure (see :mod:`mmrec_lib.data.synthetic`)."""
    from mmrec_lib.data.synthetic import make_synthetic

    return make_synthetic(size=size, seed=seed, **overrides)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "ml-100k": load_ml_100k,
    "ml-1m": load_ml_1m,
    "ml-20m": load_ml_20m,
    "ml-25m": load_ml_25m,
    "ml-latest-small": load_ml_latest_small,
    "amazon-fashion": load_amazon_fashion,
    "synthetic": load_synthetic,
}


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a dataset by name; keyword arguments go to its loader (e.g. ``side_info=False``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name](**kwargs)


def load_notebook_dataset(name: str, synthetic_size: str = "small", seed: int = 0) -> Dataset:
    """What a notebook's ``dataset`` parameter names; size and seed apply to ``synthetic`` only."""
    if name == "synthetic":
        return load_synthetic(size=synthetic_size, seed=seed)
    return load_dataset(name)


__all__ = [
    "DATASETS",
    "ChecksumError",
    "DataNotFoundError",
    "Dataset",
    "load_dataset",
    "load_notebook_dataset",
    "load_tag_genome",
]
