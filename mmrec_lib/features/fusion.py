"""Joining item modalities into one table (paper B's concatenation or summation)."""

from __future__ import annotations

import zlib

import numpy as np

from mmrec_lib.features.item_features import ItemFeatures

METHODS = ("concat", "sum")


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero rows (fallbacks) stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def random_projection(in_dim: int, out_dim: int, seed: int, name: str) -> np.ndarray:
    """A fixed Gaussian ``in_dim x out_dim`` matrix with entries N(0, 1/out_dim).

    Seeded by ``seed`` and the modality's name, so a block gets the same projection however
    the modalities are ordered. It keeps distances roughly (Johnson-Lindenstrauss).
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    return rng.normal(0.0, 1.0 / np.sqrt(out_dim), size=(in_dim, out_dim)).astype(np.float32)


def union_ids(tables: list[ItemFeatures]) -> np.ndarray:
    """All ids of the tables: the first table's in its order, then each new one as met."""
    seen = dict.fromkeys(tables[0].ids.tolist())
    for table in tables[1:]:
        seen.update(dict.fromkeys(table.ids.tolist()))
    return np.asarray(list(seen))


def fuse(
    modalities: dict[str, ItemFeatures],
    use: list[str],
    method: str = "concat",
    dim: int | None = None,
    seed: int = 0,
) -> ItemFeatures:
    """One table from the modalities named in ``use``, over the union of their ids.

    concat: each block is L2-normalised per row (so no modality dominates by scale), then
        the blocks are concatenated; width = sum of the block widths.
    sum: each L2-normalised block is mapped to ``dim`` columns by a fixed seeded Gaussian
        projection (:func:`random_projection`; the models learn their own projection later)
        and the blocks are added.

    An item missing from a modality, or without it (mask False), contributes a zero block.
    The fused mask is True where at least one used modality was present (``any``); the
    per-modality masks stay in the inputs.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not use:
        raise ValueError("use must name at least one modality")
    unknown = [name for name in use if name not in modalities]
    if unknown:
        raise ValueError(f"unknown modalities {unknown}; available: {list(modalities)}")
    flat = [name for name in use if modalities[name].matrix.ndim != 2]
    if flat:
        raise ValueError(f"fusion needs 2-D (pooled) features; {flat} are not")
    if method == "sum" and (dim is None or dim < 1):
        raise ValueError("method='sum' needs a positive dim, the common width of the blocks")
    ids = union_ids([modalities[name] for name in use])
    aligned = [modalities[name].align(ids) for name in use]
    blocks = [l2_normalise(table.matrix) * table.mask[:, None] for table in aligned]
    if method == "concat":
        matrix = np.concatenate(blocks, axis=1)
    else:
        projected = [
            block @ random_projection(block.shape[1], dim, seed, name)
            for name, block in zip(use, blocks, strict=True)
        ]
        matrix = np.sum(projected, axis=0)
    mask = np.any([table.mask for table in aligned], axis=0)
    return ItemFeatures(ids, matrix, f"{'+'.join(use)}:{method}", mask)
