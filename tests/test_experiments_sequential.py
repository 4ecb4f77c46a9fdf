"""Paper B's run function: evaluation protocols on scripted models, run configs, and
:func:`run_sequential` / :func:`run_sequential` end to end and on planted sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mmrec_lib.data import dataset_spec
from mmrec_lib.data.splits import leave_one_out
from mmrec_lib.experiments.sequential import (
    DEFAULT_FEATURES,
    DEFAULT_TRAIN,
    build_model,
    dataset_and_split,
    evaluate,
    item_input,
    rank_held_out,
    run_sequential,
    sequential_config,
)
from mmrec_lib.experiments.store import cached_run, run_key
from mmrec_lib.models.sequential import MODEL_LABELS, SEQUENTIAL_MODELS, sequential_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dataset_spec("synthetic", "tiny", 0)


@pytest.fixture(scope="module")
def split():
    """40 users with 6 random items each out of 30."""
    rng = np.random.default_rng(0)
    rows = [
        (user, item, 1.0, t)
        for user in range(40)
        for t, item in enumerate(rng.choice(30, size=6, replace=False))
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return leave_one_out(frame, n_negatives=10, seed=0)


class Scripted:
    """Scores every item by a per-user table; remembers the histories it was shown."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = torch.as_tensor(table, dtype=torch.float32)
        self.histories: list[torch.Tensor] = []

    def score_all(self, histories, users=None):
        self.histories.append(histories)
        return self.table[users]

    def score(self, histories, candidates, users=None):
        return self.score_all(histories, users).gather(1, candidates)


def one_hot(split, items: np.ndarray, value: float = 1.0) -> np.ndarray:
    table = np.zeros((split.n_users, split.n_items + 1))
    table[np.arange(split.n_users), items] = value
    return table


# Evaluation protocols ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["sampled", "full"])
def test_an_oracle_is_perfect(split, protocol):
    metrics = evaluate(Scripted(one_hot(split, split.test_item)), split, protocol, max_len=5)
    for name in ("HR@1", "NDCG@10", "MAP"):
        assert (metrics[name] == 1).all()


def test_ties_are_pessimistic(split):
    constant = Scripted(np.zeros((split.n_users, split.n_items + 1)))
    assert (rank_held_out(constant, split, "sampled") == 10).all()
    full = rank_held_out(constant, split, "full")
    # every unseen item but the positive ties with it: n_items - (4 train + 1 val) - 1
    assert (full == split.n_items - 6).all()
    assert evaluate(constant, split, "sampled")["MAP"] == pytest.approx(np.full(40, 1 / 11))


def test_full_ranking_excludes_training_and_validation_items(split):
    table = np.zeros((split.n_users, split.n_items + 1))
    table[np.repeat(np.arange(40), split.train_lengths), split.train_items] = 9.0
    table[np.arange(40), split.val_item] = 9.0
    table[np.arange(40), split.test_item] = 5.0
    table[:, 0] = 9.0  # padding is never a candidate
    assert (rank_held_out(Scripted(table), split, "full", "test") == 0).all()
    # ranking the validation item, the test item is an ordinary candidate
    table[np.arange(40), split.val_item] = 1.0
    assert (rank_held_out(Scripted(table), split, "full", "val") == 1).all()


def test_test_histories_end_with_the_validation_item(split):
    model = Scripted(np.zeros((split.n_users, split.n_items + 1)))
    rank_held_out(model, split, "sampled", "test", max_len=3, batch_size=16)
    shown = torch.cat(model.histories).numpy()
    assert len(model.histories) == 3 and np.array_equal(shown[:, -1], split.val_item)
    model.histories.clear()
    rank_held_out(model, split, "sampled", "val", max_len=3)
    last_train = split.train_items[split.train_offsets[1:] - 1]
    assert np.array_equal(torch.cat(model.histories).numpy()[:, -1], last_train)


def test_bad_protocol_and_model_names(split):
    with pytest.raises(ValueError, match="protocol"):
        rank_held_out(Scripted(np.zeros((40, 31))), split, "all")
    with pytest.raises(ValueError, match="stage"):
        rank_held_out(Scripted(np.zeros((40, 31))), split, "full", "train")
    with pytest.raises(ValueError, match="unknown sequential model"):
        sequential_model("gru4rec")
    with pytest.raises(ValueError, match="unknown sequential model"):
        sequential_config("gru4rec", dataset=TINY)
    # the "+" models read fused modalities: a config without them is refused
    with pytest.raises(ValueError, match="needs modalities"):
        sequential_config("sasrec+", dataset=TINY)
    with pytest.raises(ValueError, match="keywords"):
        SEQUENTIAL_MODELS["kebert4rec"].cls.from_split(split)


# Run configs -------------------------------------------------------------------------------


def test_sequential_config_checks_its_input():
    config = sequential_config("sasrec", dataset=TINY, seed=4)
    assert config["modalities"] == [] and config["fusion"] is None
    assert config["features"] is None and config["train"]["seed"] == 4
    assert (config["max_len"], config["d"], config["batch_size"]) == (50, 50, None)
    assert config["train"] == {**DEFAULT_TRAIN, "seed": 4}
    with pytest.raises(ValueError, match="needs modalities from"):
        sequential_config("sasrec+", dataset=TINY, modalities=["audio"])
    with pytest.raises(ValueError, match="needs modalities"):
        sequential_config("sasrec+", dataset=TINY)
    with pytest.raises(ValueError, match="name the dataset"):
        sequential_config("sasrec", dataset={})
    # modalities and fusion apply to the "+" models only, so one set of common keywords
    # builds every Table 1 config; a model without auxiliary input ignores them
    ignored = sequential_config("sasrec", dataset=TINY, seed=4, modalities=["text"], fusion="sum")
    assert ignored == config
    plus = sequential_config("sasrec+", dataset=TINY, modalities=("text", "image"), fusion="sum")
    assert plus["modalities"] == ["text", "image"] and plus["fusion"] == "sum"
    assert plus["features"] == DEFAULT_FEATURES


@pytest.mark.parametrize(
    ("model", "keywords", "match"),
    [
        ("gru4rec", {}, "unknown sequential model"),
        ("SASRec", {}, "unknown sequential model"),
        ("sasrec+", {}, "needs modalities"),
        ("bert4rec+", {"modalities": []}, "needs modalities"),
        ("sasrec+", {"modalities": ["text"], "fusion": "mean"}, "fusion must be one of"),
        ("sasrec+", {"modalities": ["text"], "fusion": None}, "fusion must be one of"),
        ("sasrec", {"n_negatives": 0}, "n_negatives=0"),
        ("sasrec", {"n_negatives": -5}, "n_negatives=-5"),
        ("sasrec", {"n_negatives": 2.5}, "n_negatives=2.5"),
        ("sasrec", {"max_len": 0}, "max_len=0"),
        ("sasrec", {"d": True}, "d=True"),
        ("sasrec", {"batch_size": 0}, "batch_size=0"),
        ("sasrec", {"train": {"lr": 0}}, "lr must be"),
        ("sasrec", {"train": {"lr": -1e-3}}, "lr must be"),
        ("sasrec", {"train": {"lr": float("nan")}}, "lr must be"),
        ("sasrec", {"train": {"epochs": 0}}, "epochs must be"),
        ("sasrec", {"train": {"patience": 0}}, "patience must be"),
        ("sasrec+", {"modalities": ["tabular"], "features": {"tabular": "svd"}}, "tabular"),
    ],
)
def test_sequential_config_rejects_bad_values_before_reading_data(model, keywords, match):
    with pytest.raises(ValueError, match=match):
        sequential_config(model, dataset=TINY, **keywords)


def test_table2_table1_and_ablation_share_the_seed_0_sasrec_plus_run():
    from mmrec_lib.experiments.grids import ablation_configs, table1_configs, table2_configs

    common = {"dataset": TINY, "modalities": ["text", "image", "tabular"], "fusion": "concat"}
    in_table2 = [c for c in table2_configs([0], **common) if c["model"] == "sasrec+"]
    (in_table1,) = table1_configs(["sasrec+"], **common)
    (in_table3,) = ablation_configs([0], models=["sasrec+"], variants=[4], **common)
    assert in_table2 == [in_table1]
    assert in_table1 == in_table3
    assert run_key(in_table2[0]) == run_key(in_table1) == run_key(in_table3)
    # and the models without auxiliary information: Table 2's seed-0 SASRec is Table 1's
    in_table2 = [c for c in table2_configs([0], **common) if c["model"] == "sasrec"]
    assert in_table2 == table1_configs(["sasrec"], **common)


# Item inputs -------------------------------------------------------------------------------


def test_item_input_is_keywords_or_fused_modalities_by_model():
    from mmrec_lib.features.sequence_items import fused_item_features, genre_multi_hot

    base = {"dataset": TINY, "n_negatives": 20}
    assert item_input(sequential_config("sasrec", **base)) is None
    keywords = item_input(sequential_config("kebert4rec", **base))
    dataset, split = dataset_and_split(sequential_config("kebert4rec", **base))
    np.testing.assert_array_equal(keywords, genre_multi_hot(dataset, split))
    assert keywords.shape == (split.n_items + 1, len(dataset.genres))
    assert not keywords[0].any()  # the padding item
    config = sequential_config(
        "sasrec+", modalities=["tabular"], features={"tabular": "table"}, **base
    )
    fused = item_input(config)
    expected = fused_item_features(dataset, split, ["tabular"], "concat", tabular="table")
    np.testing.assert_array_equal(fused, expected)
    assert fused.shape[0] == split.n_items + 1 and not fused[0].any()
    model = build_model(config, split)
    assert model.aux is not None  # SASRec+ is SASRec with the fused features
    assert build_model(sequential_config("sasrec", **base), split).aux is None


# End to end --------------------------------------------------------------------------------


ATTENTION_MODELS = ("bert4rec", "kebert4rec", "sasrec", "bert4rec+", "sasrec+")
"""The transformers: their records keep each user's last-query attention."""


def tiny_config(model: str, **keywords):
    settings = {"n_negatives": 20, "max_len": 8, "d": 8, "train": {"epochs": 1}}
    return sequential_config(model, dataset=TINY, **{**settings, **keywords})


def test_every_table1_model_runs_end_to_end():
    from mmrec_lib.experiments.grids import table1_configs
    from mmrec_lib.report.paper_b import table1

    configs = table1_configs(
        MODEL_LABELS, dataset=TINY, modalities=["tabular"], n_negatives=20, max_len=8, d=8,
        train={"epochs": 1},
    )  # fmt: skip
    records = [run_sequential(config) for config in configs]
    _, split = dataset_and_split(configs[0])
    for protocol in ("sampled", "full"):
        table = table1(records, protocol)
        assert list(table.columns) == [*MODEL_LABELS.values(), "Improve"]
        assert np.isfinite(table.to_numpy()).all()
    assert all(len(r.arrays["full/NDCG@10"]) == split.n_users for r in records)
    for record in records:
        trained = record.config["model"] != "poprec"  # PopRec is a counter, not trained
        assert ("epochs" in record.metrics) == trained
        assert ("history/train_loss" in record.arrays) == trained
        transformer = record.config["model"] in ATTENTION_MODELS
        assert ("attention_last" in record.arrays) == transformer
        assert record.arrays["top_items"].shape == (split.n_users, 5)


def test_run_sequential_stores_metrics_top_items_attention_and_reuses_them(tmp_path):
    """Integration with the sequential models: metrics, top items, attention, reuse."""
    from mmrec_lib.experiments.sweep import run_many

    configs = [
        sequential_config(model, dataset=TINY, n_negatives=30, modalities=modalities,
                          features={"tabular": "table"}, train={"epochs": 1}, d=8, max_len=10)
        for model, modalities in (("sasrec+", ["tabular"]), ("bert4rec", []))
    ]  # fmt: skip
    sasrec, bert = run_many(configs, run_sequential, root=tmp_path, progress=False)
    assert not sasrec.from_cache
    _, split = dataset_and_split(configs[0])
    ndcg = sasrec.arrays["sampled/NDCG@10"]
    assert ndcg.shape == (split.n_users,) and np.isclose(
        ndcg.mean(), sasrec.metrics["sampled/NDCG@10"]
    )
    for protocol in ("sampled", "full"):
        for metric in ("HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MAP", "MRR"):
            name = f"{protocol}/{metric}"
            assert sasrec.metrics[name] == pytest.approx(sasrec.arrays[name].mean(), abs=1e-6)
    top = sasrec.arrays["top_items"]
    assert top.shape == (split.n_users, 5) and top.min() >= 1
    seen = split.seen_matrix(include_val=True).toarray()
    assert not seen[np.arange(split.n_users)[:, None], top].any()  # never a seen item
    assert (np.diff(np.sort(top, axis=1), axis=1) > 0).all()  # five distinct items
    attention = sasrec.arrays["attention_last"].astype(np.float64)
    assert attention.shape == (split.n_users, 10)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-2)
    assert bert.arrays["top_items"].shape == (split.n_users, 5)
    assert bert.arrays["attention_last"].shape == (split.n_users, 10)
    assert sasrec.arrays["history/train_loss"].shape == (1,)
    assert (sasrec.metrics["epochs"], sasrec.metrics["best_epoch"]) == (1, 1)
    again = run_many(configs, run_sequential, root=tmp_path, progress=False)
    assert all(r.from_cache for r in again)
    reread = cached_run(configs[0], run_sequential, tmp_path)
    assert reread.from_cache and reread.metrics == pytest.approx(sasrec.metrics)
    np.testing.assert_array_equal(reread.arrays["top_items"], top)


def test_item_features_carried_from_elsewhere_run_exactly_as_computed_ones():
    """run_sequential(config, item_features): the table a GPU machine without encoders gets."""
    config = tiny_config("sasrec+", modalities=["tabular"], features={"tabular": "table"})
    computed = run_sequential(config)
    carried = run_sequential(config, item_features=item_input(config).copy())
    assert carried.metrics.keys() == computed.metrics.keys()
    for name, value in computed.metrics.items():
        if not name.startswith("seconds"):
            assert carried.metrics[name] == value, name
    np.testing.assert_array_equal(carried.arrays["top_items"], computed.arrays["top_items"])
    shuffled = item_input(config).copy()  # other features: another run
    shuffled[1:] = shuffled[1:][::-1]
    assert run_sequential(config, item_features=shuffled).metrics != computed.metrics
    _, split = dataset_and_split(config)
    with pytest.raises(ValueError, match=rf"reads {split.n_items + 1} rows"):
        run_sequential(config, item_features=item_input(config)[1:])
    with pytest.raises(ValueError, match="sasrec reads no item features"):
        run_sequential(tiny_config("sasrec"), item_features=item_input(config))


@pytest.mark.parametrize(
    "keywords",
    [
        {"hyperparameters": {"max_len": 10}},
        {"hyperparameters": {"d": 8}},
        {"train": {"progress": False}},
        {"train": {"checkpoint_dir": "elsewhere"}},
        {"hyperparameters": {"dropuot": 0.3}},
    ],
)
def test_sequential_config_rejects_settings_that_clash_with_the_run_function(keywords):
    with pytest.raises(ValueError):
        sequential_config("sasrec", dataset=TINY, **keywords)


def test_poprec_top_items_are_each_users_most_popular_unseen_items():
    record = run_sequential(tiny_config("poprec"))
    _, split = dataset_and_split(record.config)
    counts = np.bincount(split.train_items, minlength=split.n_items + 1).astype(np.float64)
    scores = np.tile(counts, (split.n_users, 1))
    scores[split.seen_matrix(include_val=True).toarray()] = -np.inf
    scores[:, 0] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(record.arrays["top_items"], expected)


def test_the_tested_model_is_the_one_at_its_best_validation_epoch():
    """Early stopping keeps the best epoch's weights: training for exactly ``best_epoch``
    epochs (same seed) gives the same test metrics as training on past it."""

    def config(epochs: int):
        return sequential_config(
            "sasrec", dataset=TINY, n_negatives=30, max_len=20, d=32, batch_size=16,
            train={"epochs": epochs, "patience": 3, "lr": 2e-2},
        )  # fmt: skip

    record = run_sequential(config(12))
    history = record.arrays["history/val_NDCG@10"]
    best = record.metrics["best_epoch"]
    assert record.metrics["epochs"] == len(history) == len(record.arrays["history/train_loss"])
    assert best == int(np.argmax(history)) + 1
    assert best < record.metrics["epochs"]  # this setting does train past its best epoch
    shorter = run_sequential(config(best))
    assert shorter.metrics["best_epoch"] == best
    for name in ("sampled/NDCG@10", "full/NDCG@10", "sampled/MAP"):
        assert shorter.metrics[name] == pytest.approx(record.metrics[name])
    np.testing.assert_array_equal(shorter.arrays["top_items"], record.arrays["top_items"])


# Learning on planted structure -------------------------------------------------------------

FAST = {"max_len": 20, "batch_size": 64, "d": 32}


def genre_chain(seed: int) -> dict:
    """Synthetic users whose next item's genre follows a planted genre chain (strength 0.9)."""
    return dataset_spec("synthetic", "tiny", seed) | {"transition_strength": 0.9}


def ndcg10(model, dataset, epochs, seed=0, n_negatives=30, **keywords) -> float:
    """Test NDCG@10 of ``model`` with the paper's settings (``PAPER_SETTINGS``; keywords'
    hyperparameters override them) after a short training run."""
    from mmrec_lib.experiments.grids import paper_config

    config = paper_config(
        model, dataset=dataset, seed=seed, split_seed=seed, n_negatives=n_negatives,
        train={"epochs": epochs, "patience": epochs, "lr": 5e-3}, **FAST, **keywords,
    )  # fmt: skip
    return run_sequential(config).metrics["sampled/NDCG@10"]


def test_sasrec_beats_poprec_on_a_planted_genre_chain():
    popular = ndcg10("poprec", genre_chain(0), 1)
    assert ndcg10("sasrec", genre_chain(0), epochs=20) > popular + 0.2


def test_sasrec_plus_beats_sasrec_when_transitions_follow_item_features():
    """Given each item's genres (the tabular item table; the planted chain runs on the
    primary genre), SASRec+ learns faster."""
    tabular = {"modalities": ["tabular"], "features": {"tabular": "table"}}
    gains = [
        ndcg10("sasrec+", genre_chain(seed), 20, seed, **tabular)
        - ndcg10("sasrec", genre_chain(seed), 20, seed)
        for seed in (0, 1)
    ]
    assert np.mean(gains) > 0.03 and min(gains) > 0


def item_chain_dataset():
    """Next item = current item + 1 (mod 100) with probability 0.9, else a random item."""
    from mmrec_lib.data.dataset import Dataset

    rng = np.random.default_rng(0)
    steps = np.where(rng.random((300, 30)) < 0.9, 1, rng.integers(2, 100, size=(300, 30)))
    items = (rng.integers(100, size=(300, 1)) + np.cumsum(steps, axis=1)) % 100
    frame = pd.DataFrame(
        {
            "user": np.repeat(np.arange(300), 30),
            "item": items.ravel(),
            "rating": np.float32(1.0),
            "timestamp": np.tile(np.arange(30), 300),
        }
    )
    catalogue = pd.DataFrame(
        {
            "title": [f"item {i}" for i in range(100)],
            "year": pd.array([pd.NA] * 100, dtype="Int64"),
            "genres": [[] for _ in range(100)],
        },
        index=pd.RangeIndex(100, name="item"),
    )
    return Dataset("item-chain", frame, catalogue, pd.DataFrame(), [])


def test_bert4rec_beats_poprec_on_a_planted_item_chain(monkeypatch):
    """(On the genre-level chain of ``make_synthetic`` BERT4Rec learns too slowly for a unit
    test: a masked position must learn to attend to its neighbours from positional
    embeddings.) The item chain is registered as a dataset, so the run is an ordinary one."""
    from mmrec_lib import data

    monkeypatch.setitem(data.DATASETS, "item-chain", item_chain_dataset)
    chain = {"name": "item-chain"}
    popular = ndcg10("poprec", chain, 1, n_negatives=50)
    bert = ndcg10("bert4rec", chain, 8, n_negatives=50, hyperparameters={"copies": 2})
    assert bert > popular + 0.2


def test_a_train_fraction_cuts_training_histories_and_nothing_else():
    """The sparsity curve's runs: less training history, the same held-out items and
    negatives; the tabular features are fitted on the shorter histories; a full history
    leaves the config (and so every earlier run key) as it was."""
    from mmrec_lib.experiments.sequential import dataset_and_split, item_input

    full = tiny_config("sasrec+", modalities=["tabular"])
    assert "train_fraction" not in full["split"]
    assert tiny_config("sasrec+", modalities=["tabular"], train_fraction=1.0) == full
    sparse = tiny_config("sasrec+", modalities=["tabular"], train_fraction=0.25)
    (_, full_split), (_, sparse_split) = dataset_and_split(full), dataset_and_split(sparse)
    expected = np.maximum(1, np.ceil(0.25 * full_split.train_lengths))
    np.testing.assert_array_equal(sparse_split.train_lengths, expected)
    np.testing.assert_array_equal(sparse_split.test_item, full_split.test_item)
    np.testing.assert_array_equal(sparse_split.negatives, full_split.negatives)
    assert not np.allclose(item_input(sparse), item_input(full))  # XGBoost saw less
    record = run_sequential(sparse)
    assert record.arrays["sampled/NDCG@10"].shape == (full_split.n_users,)
    with pytest.raises(ValueError, match="train_fraction"):
        tiny_config("sasrec", train_fraction=0)
