"""Datasets by name: ``load_dataset("ml-100k")`` returns a :class:`Dataset`.

Real data is read from the local mirror (``MMREC_DATA_DIR``) or the download cache, and
downloaded with SHA-256 checks otherwise (see :mod:`mmrec_lib.data.download`);
``"synthetic"`` needs no data at all.

Damaged or incomplete data ends in an early error naming the file (``DataNotFoundError``,
``ChecksumError``, ``SideInfoError`` when side information cannot be read and was not left out
with ``side_info=False``) or in a repair announced by a ``DataRepairWarning`` (repeated
(user, item) rows dropped, posters that do not decode or match their checksum left out).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from mmrec_lib.data.amazon import load_amazon_fashion
from mmrec_lib.data.dataset import DataRepairWarning, Dataset
from mmrec_lib.data.download import ChecksumError, DataNotFoundError, SideInfoError
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
    """Load a dataset by name; keyword arguments go to its loader (e.g. ``side_info=False``,
    which leaves a MovieLens dataset's side information out on purpose)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name](**kwargs)


def dataset_spec(name: str, synthetic_size: str = "small", seed: int = 0) -> dict:
    """The ``dataset`` entry of a run config: what a notebook's ``dataset`` parameter names
    (size and generator seed apply to ``synthetic`` only)."""
    if name == "synthetic":
        return {"name": name, "size": synthetic_size, "seed": seed}
    return {"name": name}


def load_dataset_spec(spec: dict) -> Dataset:
    """The dataset a run config's ``dataset`` entry names (``{"name": ..., **kwargs}``),
    loaded once per process and kept for the next run that names it."""
    from mmrec_lib.hashing import canonical_json

    if "name" not in spec:
        raise ValueError(
            f'a dataset spec must name the dataset, e.g. {{"name": "ml-100k"}}: {spec}'
        )
    return _load_spec(canonical_json(spec))


@functools.lru_cache(maxsize=4)
def _load_spec(spec_json: str) -> Dataset:
    spec = json.loads(spec_json)
    return load_dataset(spec.pop("name"), **spec)


def load_notebook_dataset(name: str, synthetic_size: str = "small", seed: int = 0) -> Dataset:
    """What a notebook's ``dataset`` parameter names; size and seed apply to ``synthetic`` only."""
    return load_dataset_spec(dataset_spec(name, synthetic_size, seed))


__all__ = [
    "DATASETS",
    "ChecksumError",
    "DataNotFoundError",
    "DataRepairWarning",
    "Dataset",
    "SideInfoError",
    "dataset_spec",
    "load_dataset",
    "load_dataset_spec",
    "load_notebook_dataset",
    "load_tag_genome",
]
