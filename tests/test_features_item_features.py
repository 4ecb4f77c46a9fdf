"""ItemFeatures, fusion and the on-disk feature cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmrec_lib.features import cache
from mmrec_lib.features.fusion import fuse, l2_normalise, random_projection
from mmrec_lib.features.item_features import ItemFeatures


def table(ids, matrix, name="t", mask=None) -> ItemFeatures:
    return ItemFeatures(np.asarray(ids), np.asarray(matrix, float), name, mask)


# --- ItemFeatures ---------------------------------------------------------------------------


def test_item_features_defaults_and_coverage() -> None:
    features = table([3, 1, 2], np.arange(6).reshape(3, 2), mask=[True, False, True])
    assert features.dim == 2
    assert len(features) == 3
    assert features.matrix.dtype == np.float32
    assert features.n_missing == 1
    assert features.coverage == pytest.approx(2 / 3)
    assert table([1], [[0.0]]).mask.tolist() == [True]


@pytest.mark.parametrize(
    ("ids", "matrix", "mask", "message"),
    [
        ([1, 2], np.zeros((3, 2)), None, "one row per id"),
        ([1, 1], np.zeros((2, 2)), None, "unique"),
        ([1, 2], np.zeros(2), None, "one row per id"),
        ([1, 2], np.zeros((2, 2)), [True], "mask shape"),
    ],
)
def test_item_features_rejects_inconsistent_tables(ids, matrix, mask, message) -> None:
    with pytest.raises(ValueError, match=message):
        table(ids, matrix, mask=mask)


def test_align_reorders_and_fills_unknown_ids_with_masked_zeros() -> None:
    features = table([10, 20, 30], [[1, 1], [2, 2], [3, 3]], mask=[True, False, True])
    aligned = features.align([30, 99, 10, 20])
    assert aligned.ids.tolist() == [30, 99, 10, 20]
    np.testing.assert_array_equal(aligned.matrix, [[3, 3], [0, 0], [1, 1], [2, 2]])
    assert aligned.mask.tolist() == [True, False, True, False]
    assert aligned.name == features.name


def test_align_keeps_token_axes() -> None:
    features = table([1, 2], np.arange(12).reshape(2, 3, 2))
    aligned = features.align([2, 5])
    assert aligned.matrix.shape == (2, 3, 2)
    np.testing.assert_array_equal(aligned.matrix[0], features.matrix[1])
    assert not aligned.matrix[1].any()


# --- fusion ---------------------------------------------------------------------------------


@pytest.fixture
def modalities() -> dict[str, ItemFeatures]:
    return {
        "text": table([1, 2, 3], [[3, 4], [0, 0], [1, 0]], "text", mask=[True, False, True]),
        "image": table([2, 3, 4], [[0, 0, 2], [1, 1, 1], [5, 0, 0]], "image"),
    }


def test_concat_normalises_blocks_over_the_union_of_ids(modalities) -> None:
    fused = fuse(modalities, ["text", "image"], fusion="concat")
    assert fused.ids.tolist() == [1, 2, 3, 4]
    assert fused.matrix.shape == (4, 5)
    expected = np.array(
        [
            [0.6, 0.8, 0, 0, 0],  # image missing for item 1
            [0, 0, 0, 0, 1],  # text masked for item 2
            [1, 0, *(np.ones(3) / np.sqrt(3))],
            [0, 0, 1, 0, 0],  # text missing for item 4
        ]
    )
    np.testing.assert_allclose(fused.matrix, expected, atol=1e-6)
    assert fused.mask.tolist() == [True, True, True, True]


def test_concat_mask_is_any_of_the_modalities() -> None:
    only_masked = {
        "a": table([1, 2], [[1.0], [1.0]], mask=[False, True]),
        "b": table([1, 2], [[1.0], [1.0]], mask=[False, False]),
    }
    fused = fuse(only_masked, ["a", "b"])
    assert fused.mask.tolist() == [False, True]
    np.testing.assert_array_equal(fused.matrix[0], [0, 0])  # masked rows contribute nothing


def test_sum_projects_each_block_to_dim_and_adds(modalities) -> None:
    fused = fuse(modalities, ["text", "image"], fusion="sum", dim=8, seed=3)
    assert fused.matrix.shape == (4, 8)
    aligned = {name: modalities[name].align([1, 2, 3, 4]) for name in modalities}
    expected = sum(
        (l2_normalise(t.matrix) * t.mask[:, None]) @ random_projection(t.dim, 8, 3, name)
        for name, t in aligned.items()
    )
    np.testing.assert_allclose(fused.matrix, expected, rtol=1e-5, atol=1e-6)
    reordered = fuse(modalities, ["image", "text"], fusion="sum", dim=8, seed=3)
    np.testing.assert_allclose(
        reordered.align([1, 2, 3, 4]).matrix, fused.matrix, rtol=1e-5, atol=1e-6
    )
    other_seed = fuse(modalities, ["text", "image"], fusion="sum", dim=8, seed=4)
    assert not np.allclose(other_seed.matrix, fused.matrix)


def test_random_projection_preserves_norms_roughly() -> None:
    vectors = l2_normalise(np.random.default_rng(0).normal(size=(200, 300)))
    projected = vectors @ random_projection(300, 256, seed=0, name="x")
    assert np.linalg.norm(projected, axis=1).mean() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    ("chosen", "fusion", "dim", "message"),
    [
        (["text", "audio"], "concat", None, "unknown modalities"),
        (["text"], "product", None, "fusion must be"),
        (["text"], "sum", None, "positive dim"),
        ([], "concat", None, "at least one"),
    ],
)
def test_fuse_rejects_bad_requests(modalities, chosen, fusion, dim, message) -> None:
    with pytest.raises(ValueError, match=message):
        fuse(modalities, chosen, fusion=fusion, dim=dim)


def test_fuse_rejects_token_sequences() -> None:
    with pytest.raises(ValueError, match="2-D"):
        fuse({"seq": table([1], np.zeros((1, 4, 2)))}, ["seq"])


# --- cache ----------------------------------------------------------------------------------


def test_cache_key_ignores_keyword_order_and_sees_values() -> None:
    assert cache.cache_key(a=1, b="x") == cache.cache_key(b="x", a=1)
    assert cache.cache_key(a=1, b="x") != cache.cache_key(a=2, b="x")


def test_hash_texts_sees_boundaries() -> None:
    assert cache.hash_texts(["ab", "c"]) != cache.hash_texts(["a", "bc"])
    assert cache.hash_texts(["ab", "c"]) == cache.hash_texts(["ab", "c"])


def test_hash_files_follows_content_not_location(tmp_path: Path) -> None:
    first, copy = tmp_path / "a.png", tmp_path / "copy.png"
    first.write_bytes(b"poster")
    copy.write_bytes(b"poster")
    assert cache.hash_files([first]) == cache.hash_files([copy])
    copy.write_bytes(b"poster v2")
    assert cache.hash_files([first]) != cache.hash_files([copy])
    assert cache.hash_files([None]) == cache.hash_files([tmp_path / "absent.png"])
    assert cache.hash_files([None]) != cache.hash_files([first])


def test_cached_arrays_computes_once_and_writes_atomically() -> None:
    calls = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"features": np.arange(4.0), "mask": np.array([True, False])}

    key = cache.cache_key(test="computes-once")
    first = cache.cached_arrays("unit", key, compute)
    second = cache.cached_arrays("unit", key, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(second["features"], first["features"])
    assert second["mask"].tolist() == [True, False]
    folder = cache.entry_path("unit", key).parent
    assert not list(folder.glob("*.tmp*"))


def test_failed_compute_leaves_no_entry() -> None:
    def compute() -> dict[str, np.ndarray]:
        raise RuntimeError("encoder broke")

    key = cache.cache_key(test="fails")
    with pytest.raises(RuntimeError, match="encoder broke"):
        cache.cached_arrays("unit", key, compute)
    assert not cache.entry_path("unit", key).exists()
    assert not list(cache.entry_path("unit", key).parent.glob("*.tmp*"))


def test_package_version_includes_the_encoding_code_digest(monkeypatch) -> None:
    assert cache.package_version("numpy") == f"{np.__version__}+code{cache.encoding_code()}"
    monkeypatch.setattr(cache, "encoding_code", lambda: "99")
    assert cache.package_version("numpy").endswith("+code99")
    assert cache.package_version("no-such-package-xyz").startswith("not-installed")
