"""Joining item modalities into one table (paper B's concatenation or summation)."""

from __future__ import annotations

import zlib

import numpy as np

from mmrec_lib.features.item_features import ItemFeatures

FUSIONS = ("concat", "sum")


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
    tables: dict[str, ItemFeatures],
    modalities: list[str],
    fusion: str = "concat",
    dim: int | None = None,
    seed: int = 0,
) -> ItemFeatures:
    """One table from the ``tables`` named in ``modalities``, over the union of their ids.

    concat: each block is L2-normalised per row (so no modality dominates by scale), then
        the blocks are concatenated; width = sum of the block widths.
    sum: each L2-normalised block is mapped to ``dim`` columns by a fixed seeded Gaussian
        projection (:func:`random_projection`; the models learn their own projection later)
        and the blocks are added.

    An item missing from a modality, or without it (mask False), contributes a zero block.
    The fused mask is True where at least one used modality was present (``any``); the
    per-modality masks stay in the inputs.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    if not modalities:
        raise ValueError("modalities must name at least one modality")
    unknown = [name for name in modalities if name not in tables]
    if unknown:
        raise ValueError(f"unknown modalities {unknown}; available: {list(tables)}")
    flat = [name for name in modalities if tables[name].matrix.ndim != 2]
    if flat:
        raise ValueError(f"fusion needs 2-D (pooled) features; {flat} are not")
    if fusion == "sum" and (dim is None or dim < 1):
        raise ValueError("fusion='sum' needs a positive dim, the common width of the blocks")
    ids = union_ids([tables[name] for name in modalities])
    aligned = [tables[name].align(ids) for name in modalities]
    blocks = [l2_normalise(table.matrix) * table.mask[:, None] for table in aligned]
    if fusion == "concat":
        matrix = np.concatenate(blocks, axis=1)
    else:
        projected = [
            block @ random_projection(block.shape[1], dim, seed, name)
            for name, block in zip(modalities, blocks, strict=True)
        ]
        matrix = np.sum(projected, axis=0)
    mask = np.any([table.mask for table in aligned], axis=0)
    return ItemFeatures(ids, matrix, f"{'+'.join(modalities)}:{fusion}", mask)
