"""Text cleaning and text encoders (the real offline MiniLM is loaded once per module)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.selection import restrict_items
from mmrec_lib.features import cache, text
from mmrec_lib.features.text import (
    PAPER_A_PREPROCESSING,
    TextPreprocessing,
    encode_texts,
    item_text_features,
    lemmatise,
)

TEXTS = [
    "A haunted house full of ghosts and screams.",
    "Two lovers meet in Paris and fall in love.",
    "Robots invade a distant galaxy with lasers.",
]


def refuse_to_load(*args, **kwargs):
    raise AssertionError("the model was loaded")


def dataset_with_plots(plots: list[object]) -> Dataset:
    ids = np.arange(1, len(plots) + 1)
    items = pd.DataFrame(
        {"title": [f"m{i}" for i in ids], "year": 2000, "genres": [["Drama"]] * len(ids)},
        index=pd.Index(ids, name="item"),
    )
    if any(plot is not None for plot in plots):
        items["plot"] = plots
    interactions = pd.DataFrame({"user": 1, "item": ids, "rating": 4.0, "timestamp": ids})
    return Dataset("hand", interactions, items, pd.DataFrame(), ["Drama"])


@pytest.fixture(scope="module")
def minilm_pooled() -> np.ndarray:
    """Loads MiniLM (kept by the library for the rest of the process)."""
    return encode_texts(TEXTS, "minilm", cache=False)


# --- cleaning -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "lemma"),
    [
        ("movies", "movie"),
        ("cities", "city"),
        ("wars", "war"),
        ("stories", "story"),
        ("married", "marry"),
        ("witches", "witch"),
        ("boxes", "box"),
        ("running", "run"),
        ("stopped", "stop"),
        ("making", "make"),
        ("loved", "love"),
        ("hoping", "hope"),
        ("hopping", "hop"),
        ("walked", "walk"),
        ("played", "play"),
        ("opened", "open"),
        ("killing", "kill"),
        ("boss", "boss"),
        ("virus", "virus"),
        ("crisis", "crisis"),
        ("series", "series"),
        ("morning", "morning"),
        ("agreed", "agreed"),
        ("used", "used"),
        ("war", "war"),
        ("1980s", "1980s"),
    ],
)
def test_lemmatise_rules(word: str, lemma: str) -> None:
    assert lemmatise(word) == lemma


def test_paper_a_cleaning_steps() -> None:
    raw = "The Movies' witches were running, quickly!"
    assert PAPER_A_PREPROCESSING(raw) == "movie witch run quickly"
    assert TextPreprocessing(lemmatise=False)(raw) == "movies witches running quickly"
    assert TextPreprocessing(remove_stopwords=False, lemmatise=False)(raw) == (
        "the movies witches were running quickly"
    )
    assert text.NO_PREPROCESSING(raw) == raw


# --- encoding -------------------------------------------------------------------------------


def test_minilm_pooled_shape_norm_and_determinism(minilm_pooled) -> None:
    assert minilm_pooled.shape == (3, 384)
    assert minilm_pooled.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(minilm_pooled, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encode_texts(TEXTS, cache=False), minilm_pooled)
    batched = encode_texts(TEXTS, batch_size=1, cache=False)  # padding must not matter
    np.testing.assert_allclose(batched, minilm_pooled, atol=1e-5)


def test_minilm_matches_sentence_transformers(minilm_pooled) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(text._minilm_path(), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(minilm_pooled, reference, atol=1e-5)


def test_last_hidden_pads_to_max_length_with_zeros(minilm_pooled) -> None:
    hidden = encode_texts(TEXTS[:2], max_length=16, output="last_hidden", cache=False)
    assert hidden.shape == (2, 16, 384)
    real = np.abs(hidden).sum(axis=2) > 0
    assert real[:, 0].all() and not real[:, -1].any()  # [CLS] first, padding last
    pooled = hidden.sum(axis=1) / real.sum(axis=1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, minilm_pooled[:2], atol=1e-5)


def test_cache_hit_skips_the_model_and_changes_miss(monkeypatch, minilm_pooled) -> None:
    texts = ["cache probe one", "cache probe two"]
    first = encode_texts(texts)
    monkeypatch.setattr(text, "_load_model", refuse_to_load)
    np.testing.assert_array_equal(encode_texts(texts), first)
    for changed in (
        dict(texts=[*texts, "a new text"]),
        dict(texts=texts, max_length=32),
        dict(texts=texts, output="last_hidden"),
    ):
        with pytest.raises(AssertionError, match="model was loaded"):
            encode_texts(**changed)
    monkeypatch.setattr(cache, "encoding_code", lambda: "changed")
    with pytest.raises(AssertionError, match="model was loaded"):
        encode_texts(texts)


def test_item_text_features_fallback_for_missing_descriptions(minilm_pooled) -> None:
    plots = [TEXTS[0], None, "   ", TEXTS[2]]
    features = item_text_features(dataset_with_plots(plots))
    assert features.ids.tolist() == [1, 2, 3, 4]
    assert features.mask.tolist() == [True, False, False, True]
    assert features.n_missing == 2
    assert features.name == "text:minilm"
    assert not features.matrix[[1, 2]].any()
    cleaned = [PAPER_A_PREPROCESSING(TEXTS[0]), PAPER_A_PREPROCESSING(TEXTS[2])]
    np.testing.assert_allclose(features.matrix[[0, 3]], encode_texts(cleaned), atol=1e-6)


def test_a_cut_keeping_every_item_reuses_the_whole_datasets_encoding(
    monkeypatch, minilm_pooled
) -> None:
    dataset = dataset_with_plots(["a first probe plot", "a second one", "and a third"])
    whole = item_text_features(dataset)
    monkeypatch.setattr(text, "_load_model", refuse_to_load)
    cut = item_text_features(restrict_items(dataset, [3, 1, 2]))  # e.g. most-rated order
    np.testing.assert_array_equal(cut.matrix, whole.matrix)


def test_no_plot_column_gives_all_fallbacks_without_loading(monkeypatch) -> None:
    monkeypatch.setattr(text, "_load_model", refuse_to_load)
    features = item_text_features(dataset_with_plots([None, None]))
    assert features.matrix.shape == (2, 384)
    assert features.coverage == 0.0


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown text encoder"):
        encode_texts(["x"], encoder="bert-huge")
    with pytest.raises(ValueError, match="output must be"):
        encode_texts(["x"], output="cls")
    with pytest.raises(ValueError, match="strings"):
        encode_texts(["x", None])


@pytest.mark.parametrize("encoder", ["distilbert-base-cased", "data2vec-text"])
def test_online_encoders_fail_clearly_offline(monkeypatch, encoder) -> None:
    from huggingface_hub import try_to_load_from_cache

    source = text.TEXT_ENCODERS[encoder].source
    if isinstance(try_to_load_from_cache(source, "config.json"), str):
        pytest.skip(f"{source} is in the local Hugging Face cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="needs internet.*'minilm'.*offline"):
        encode_texts(["x"], encoder=encoder, cache=False)


@pytest.mark.slow
def test_genre_is_recoverable_from_synthetic_descriptions() -> None:
    from mmrec_lib.data.synthetic import make_synthetic

    dataset = make_synthetic("tiny", seed=0)
    features = item_text_features(dataset)
    genre = dataset.extras["planted"]["item_primary_genre"].loc[features.ids].to_numpy()
    accuracy, baseline = held_out_accuracy(features.matrix, genre)
    assert accuracy > 2 * baseline


def held_out_accuracy(matrix: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """3-fold accuracy of logistic regression and of always predicting the majority class."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, cross_val_score

    folds = KFold(3, shuffle=True, random_state=0)
    model = LogisticRegression(max_iter=2000)
    accuracy = cross_val_score(model, matrix, labels, cv=folds).mean()
    baseline = cross_val_score(DummyClassifier(), matrix, labels, cv=folds).mean()
    return float(accuracy), float(baseline)
