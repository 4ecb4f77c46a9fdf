"""Paper A's rating experiment on planted synthetic data: MF near the noise floor, TSEM ahead
of MF when ratings follow item content, resume, the progressive schedule, refit, errors; and
the one run function: configs, records (stored and read back), every model in Table 9."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

import mmrec_lib.data
from mmrec_lib.data import dataset_spec, load_dataset_spec
from mmrec_lib.data.splits import RatingSplit, ratio_split
from mmrec_lib.data.synthetic import make_synthetic
from mmrec_lib.experiments.rating import (
    DEFAULT_ENCODERS,
    DEFAULT_TRAIN,
    ProgressiveData,
    active_user_summary,
    active_users,
    dataset_and_split,
    rating_config,
    rating_inputs,
    rating_split,
    record_history,
    run_rating,
    split_sizes,
    train_rating_model,
)
from mmrec_lib.experiments.store import cached_run, run_key
from mmrec_lib.hashing import canonical_json
from mmrec_lib.metrics.rating import rmse
from mmrec_lib.models.rating import MODEL_LABELS
from mmrec_lib.models.rating.data import RatingIndex, RatingInputs, rating_tensors
from mmrec_lib.models.rating.mf import MF
from mmrec_lib.models.training import History, TrainConfig, fit, shuffled_batches
from mmrec_lib.report.paper_a import REPORTED, comparison_table, metrics_frame, reported_values
from mmrec_lib.report.plots.training import loss_curves

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _planted_inputs(dataset, split: RatingSplit) -> RatingInputs:
    """Side information read straight from the planted truth (no encoders needed)."""
    index = RatingIndex.from_frames(split.train, split.val, split.test)
    planted = dataset.extras["planted"]
    parts = planted["item_factor_parts"]

    def by_item(table) -> np.ndarray:
        return np.asarray(table.reindex(index.item_ids), dtype=np.float32).reshape(
            index.n_items, -1
        )

    return RatingInputs(
        index,
        tabular=np.hstack([by_item(parts["genre"]), by_item(planted["item_bias"])]),
        poster=by_item(planted["item_content"]),
        description=by_item(parts["content"]),
        cast=by_item(parts["genre"]),
        genres=(by_item(parts["genre"]) > 0).astype(np.float32),
        user_genre_frequency=np.ones((index.n_users, 3), np.float32),
    )


def _config(**overrides) -> TrainConfig:
    settings = {"epochs": 40, "lr": 0.02, "patience": 5, "progress": False, "seed": 0}
    return TrainConfig(**{**settings, **overrides})


def test_mf_reaches_the_noise_floor_and_beats_the_global_mean():
    data = make_synthetic("small", seed=0, n_users=400, min_interactions=80, max_interactions=200)
    split = ratio_split(data.interactions, test_frac=0.2, val_frac=0.1, seed=0)
    result = train_rating_model(
        "mf",
        split,
        rating_inputs(data, split, ["mf"]),
        _config(),
        batch_size=1024,
        model_kwargs={"dim": 8, "reg": 0.05},
    )
    expected = pd.Series(data.extras["planted"]["expected_rating"], index=data.interactions.index)
    floor = rmse(expected[split.test.index], split.test["rating"])  # Bayes-optimal predictor
    global_mean = rmse(np.full(len(split.test), split.train["rating"].mean()), split.test["rating"])
    assert result.metrics["rmse"] < 1.2 * floor
    assert result.metrics["rmse"] < 0.65 * global_mean
    assert result.metrics["mse"] == pytest.approx(result.metrics["rmse"] ** 2)
    assert len(result.predictions) == len(split.test)


def test_tsem_beats_mf_when_ratings_follow_item_content():
    # Item factors are all genre + content (no residual) and items are rating-sparse: MF must
    # learn each item from a few ratings, TSEM reads it from the (planted) content features.
    data = make_synthetic(
        "small", seed=0, n_users=300, n_items=1200, genre_share=0.4, content_share=0.6
    )
    split = ratio_split(data.interactions, test_frac=0.2, val_frac=0.1, seed=0)
    inputs = _planted_inputs(data, split)
    config = _config(epochs=25, lr=0.01)
    mf = train_rating_model("mf", split, inputs, config, model_kwargs={"dim": 16, "reg": 0.1})
    tsem = train_rating_model(
        "tsem", split, inputs, config, model_kwargs={"dim": 16, "hidden": 32, "reg": 0.1}
    )
    assert tsem.metrics["rmse"] < mf.metrics["rmse"] - 0.08


def _tiny():
    data = make_synthetic("tiny", seed=1)
    split = ratio_split(data.interactions, test_frac=0.2, val_frac=0.1, seed=0)
    return data, split, _planted_inputs(data, split)


def test_resumed_tsem_run_equals_an_uninterrupted_one(tmp_path):
    _, split, inputs = _tiny()
    # the threshold is crossed mid-run, so the widening must be replayed from the history
    progressive = ProgressiveData(fraction=0.5, threshold=1.0, seed=3)

    def run(epochs: int, folder: str):
        config = _config(epochs=epochs, patience=10, lr=0.01, checkpoint_dir=tmp_path / folder)
        return train_rating_model(
            "tsem", split, inputs, config, cosine_t_max=4, progressive=progressive
        )

    whole = run(6, "whole")
    run(3, "split")
    resumed = run(6, "split")
    assert resumed.history.epochs_run == 6
    np.testing.assert_allclose(resumed.history.train_loss, whole.history.train_loss, rtol=1e-6)
    np.testing.assert_allclose(resumed.predictions, whole.predictions, rtol=1e-6)
    assert (tmp_path / "whole" / "tsem" / "checkpoint.pt").is_file()


def test_progressive_data_uses_a_fixed_subset_until_the_threshold():
    schedule = ProgressiveData(fraction=0.3, threshold=0.61, seed=0)
    rows = schedule.rows(100)
    assert len(rows) == 30 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, schedule.rows(100))
    history = History(val_metric=[0.9, 0.7])
    assert not schedule.widened(history)
    history.val_metric.append(0.61)
    assert schedule.widened(history)
    with pytest.raises(ValueError, match="fraction"):
        ProgressiveData(fraction=0.0, threshold=1.0)


def test_progressive_data_changes_training_only_before_widening():
    _, split, inputs = _tiny()
    config = _config(epochs=3, patience=10, lr=0.01)
    plain = train_rating_model("mf", split, inputs, dataclasses.replace(config, threads=2))
    assert torch.get_num_threads() == 1  # restored after training
    always_wide = train_rating_model(
        "mf", split, inputs, config, progressive=ProgressiveData(0.2, threshold=np.inf)
    )
    never_wide = train_rating_model(
        "mf", split, inputs, config, progressive=ProgressiveData(0.2, threshold=-np.inf)
    )
    # threshold inf: epoch 1 on 20 % of the rows, then (as plain) on all of them
    assert always_wide.history.train_loss[0] != pytest.approx(plain.history.train_loss[0])
    assert never_wide.history.train_loss[2] != pytest.approx(always_wide.history.train_loss[2])


def test_rating_inputs_align_tabular_rows_to_the_index():
    from mmrec_lib.features import tabular_item_table

    data, split, _ = _tiny()
    inputs = rating_inputs(data, split, ["nn", "mf"])
    assert inputs.poster is None and inputs.description is None
    table = tabular_item_table(data)
    item = inputs.index.item_ids[5]
    row = table.matrix[list(table.ids).index(item)]
    np.testing.assert_array_equal(inputs.tabular[5], row)


def test_active_user_summary_counts_users_and_their_share_of_ratings():
    interactions = pd.DataFrame({"user": [1, 1, 1, 2, 2, 3], "item": [1, 2, 3, 1, 2, 1]})
    summary = active_user_summary(interactions, [1, 2, 3, 4])
    assert summary["users"].tolist() == [3, 2, 1, 0]
    np.testing.assert_allclose(summary["ratings_share"], [1.0, 5 / 6, 0.5, 0.0])


def test_bad_runs_raise_before_any_work():
    data, split, inputs = _tiny()
    with pytest.raises(ValueError, match=r"unknown rating model.*'svd'.*known"):
        train_rating_model("svd", split, inputs, _config())
    empty = RatingSplit(split.train.iloc[:0], split.val, split.test, seed=0)
    with pytest.raises(ValueError, match="split.train is empty"):
        train_rating_model("mf", empty, inputs, _config())
    with pytest.raises(ValueError, match=r"needs inputs \['poster'\]"):
        train_rating_model(
            "tsem",
            split,
            RatingInputs(
                inputs.index,
                tabular=inputs.tabular,
                description=inputs.description,
                user_genre_frequency=inputs.user_genre_frequency,
            ),
            _config(),
        )
    with pytest.raises(ValueError, match="threads"):
        _config(threads=0)
    with pytest.raises(ValueError, match="epochs"):
        _config(epochs=-1)
    with pytest.raises(ValueError, match="unknown rating model"):
        rating_inputs(data, split, ["mf", "bpr"])


def test_refit_trains_afresh_on_train_and_validation_for_the_chosen_epochs():
    _, split, inputs = _tiny()
    config = _config(epochs=12, patience=3, lr=0.02)
    kwargs = {"dim": 4, "reg": 0.05}
    chosen = train_rating_model("mf", split, inputs, config, model_kwargs=kwargs)
    refitted = train_rating_model("mf", split, inputs, config, model_kwargs=kwargs, refit=True)
    assert refitted.history.val_metric == chosen.history.val_metric  # selection unchanged
    # by hand: a fresh MF (same seed) on train + validation for best_epoch + 1 epochs
    device = torch.device("cpu")
    both = pd.concat([split.train, split.val])
    rows = rating_tensors(both, inputs.index, device)
    torch.manual_seed(config.seed)
    model = MF(
        inputs.index.n_users, inputs.index.n_items, global_mean=float(rows[2].mean()), **kwargs
    )
    fit(
        model,
        lambda rng, history: shuffled_batches(rows, 1024, rng),
        lambda m, batch: m.loss(*batch),
        None,
        dataclasses.replace(config, epochs=chosen.history.best_epoch + 1),
    )
    test = rating_tensors(split.test, inputs.index, device)
    low, high = split.train["rating"].min(), split.train["rating"].max()
    with torch.no_grad():
        expected = model.eval()(test[0], test[1]).clamp(low, high).numpy()
    assert refitted.predictions == pytest.approx(expected, abs=1e-5)
    assert not np.allclose(refitted.predictions, chosen.predictions)


def test_rating_split_is_72_8_20():
    data = make_synthetic("tiny", seed=1)
    split = rating_split(data.interactions, seed=3)
    n = len(data.interactions)
    assert (len(split.train), len(split.val), len(split.test)) == (
        n - round(0.2 * n) - round(0.08 * n),
        round(0.08 * n),
        round(0.2 * n),
    )
    assert split.seed == 3


# --- the one run function: configs -> records -----------------------------------------------

TINY = dataset_spec("synthetic", "tiny", 1)


def _run_config(model: str, **overrides) -> dict:
    settings = {
        "dataset": TINY,
        "batch_size": 256,
        "train": {"epochs": 2, "lr": 0.02, "patience": 5},
    }
    return rating_config(model, **{**settings, **overrides})


def test_rating_config_is_plain_json_with_paper_a_schedule_for_tsem_only():
    tsem = rating_config("tsem", dataset=TINY, seed=2, hyperparameters={"dim": 8})
    assert json.loads(canonical_json(tsem)) == tsem
    assert tsem["schedule"] == {
        "cosine_t_max": 15,
        "progressive_fraction": 1.0,
        "progressive_threshold": None,  # no progressive data: its threshold decides nothing
    }
    progressive = rating_config("tsem", dataset=TINY, progressive_fraction=0.3)
    assert progressive["schedule"]["progressive_threshold"] == 0.61
    assert tsem["train"] == {**DEFAULT_TRAIN, "seed": 2}
    assert tsem["split"] == {
        "seed": 0,
        "min_user_ratings": 1,
        "test_share": 0.2,
        "validation_share": 0.08,
    }
    assert tsem["encoders"] == DEFAULT_ENCODERS and tsem["backbone_lr_scale"] is None
    mf = rating_config("mf", dataset=TINY)
    # MF reads no side information and trains at a constant rate on all rows
    assert mf["schedule"] is None and mf["encoders"] is None and not mf["refit"]
    tuned = rating_config("tsem", dataset=TINY, encoders={"mode": "fine-tune"})
    assert tuned["encoders"]["mode"] == "fine-tune" and tuned["backbone_lr_scale"] == 0.1
    assert rating_config("mf", dataset=TINY) == mf  # equal settings, equal configs, one key
    assert run_key(rating_config("mf", dataset=TINY, split_seed=1)) != run_key(mf)


def test_bad_configs_raise_before_any_data_is_read():
    nowhere = {"name": "no-such-dataset"}
    config = rating_config("mf", dataset=nowhere)  # no data is read to write a config
    assert config["dataset"] == nowhere
    with pytest.raises(ValueError, match="unknown rating model"):
        rating_config("svd", dataset=nowhere)
    with pytest.raises(ValueError, match="must name the dataset"):
        rating_config("mf", dataset={"size": "tiny"})
    with pytest.raises(ValueError, match=r"encoders.mode must be one of .*'fine-tune'"):
        rating_config("tsem", dataset=nowhere, encoders={"mode": "finetune"})
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            rating_config("mf", dataset=nowhere, batch_size=bad)
    with pytest.raises(ValueError, match="backbone_lr_scale must be positive"):
        rating_config("tsem", dataset=nowhere, backbone_lr_scale=0.0)
    with pytest.raises(ValueError, match="fraction"):
        rating_config("tsem", dataset=nowhere, progressive_fraction=0.0)
    with pytest.raises(ValueError, match="epochs"):
        rating_config("mf", dataset=nowhere, train={"epochs": -1})
    with pytest.raises(ValueError, match="threads"):
        rating_config("mf", dataset=nowhere, train={"threads": 0})
    with pytest.raises(TypeError, match="no_such_setting"):
        rating_config("mf", dataset=nowhere, train={"no_such_setting": 1})
    with pytest.raises(ValueError, match="unknown dataset 'no-such-dataset'"):
        run_rating(config)


@pytest.mark.parametrize(
    "setting", [{"progress": True}, {"checkpoint_dir": "elsewhere"}, {"fingerprint": "mine"}]
)
def test_train_settings_the_run_sets_itself_are_rejected_up_front_or_ignored(setting):
    try:
        config = _run_config("mf", train={"epochs": 1, **setting})
    except ValueError:
        return  # rejected before any data is read
    assert np.isfinite(run_rating(config).metrics["rmse"])


def test_every_paper_model_trains_and_lands_in_table_9(tmp_path):
    hyperparameters = {"mf_nn": {"dim": 8}, "tsem": {"dim": 8}}
    configs = {
        name: _run_config(name, hyperparameters=hyperparameters.get(name))
        for name in ("nn", "mf", "mf_nn", "tsem")
    }
    records = {name: cached_run(config, run_rating, tmp_path) for name, config in configs.items()}
    assert list(metrics_frame(records).index) == ["NN", "MF", "MF_NN", "TSEM"]
    n_test = split_sizes(configs["mf"])["test"]
    for name, record in records.items():
        assert not record.from_cache and record.config == configs[name]
        assert record.metrics["epochs"] == 2 == len(record.arrays["history/train_loss"])
        assert len(record.arrays["predictions"]) == n_test
        assert record.arrays["squared_error"].mean() == pytest.approx(record.metrics["mse"])
        assert record.metrics["mse"] == pytest.approx(record.metrics["rmse"] ** 2)
        assert record.metrics["n_parameters"] > 0
    table = comparison_table(records)
    for name, record in records.items():
        row = table.loc[MODEL_LABELS[name]]
        assert row[("MSE", "ours")] == pytest.approx(record.metrics["mse"])
        assert row[("hit rate (%)", "ours")] == pytest.approx(100 * record.metrics["hit_rate"])
        assert row[("RMSE", "reported")] == REPORTED.loc[MODEL_LABELS[name], "RMSE"]
    assert table.loc["TSEM", ("MSE", "reported")] == 0.61
    assert table.loc["NN", ("hit rate (%)", "reported")] == 50.22
    assert np.isnan(table.loc["MF (Koren et al. 2009)", ("MSE", "ours")])
    assert table.loc["SVD (Surprise)", ("RMSE", "reported")] == 0.934
    assert "not measured here" in table.loc["NCF (He et al. 2017)", ("source", "")]
    reported = reported_values()
    assert reported["reported_tsem_hit_rate_pct"] == 73.88
    assert reported["reported_koren2009_mse"] == 0.73
    assert reported["reported_surprise_svdpp_rmse"] == 0.919
    assert len(reported) == 4 * 3 + 2 + 1 + 2  # paper models, Koren, NCF, Surprise
    figure = loss_curves({MODEL_LABELS[n]: record_history(r) for n, r in records.items()})
    assert len(figure.axes) == 4
    assert all(len(axis.lines) == 3 for axis in figure.axes)  # train, validation, best epoch
    # a finished run is read back, not trained again
    again = cached_run(configs["tsem"], run_rating, tmp_path)
    assert again.from_cache and again.metrics == records["tsem"].metrics
    np.testing.assert_array_equal(
        again.arrays["predictions"], records["tsem"].arrays["predictions"]
    )


def test_run_rating_trains_the_configs_model_with_its_schedule():
    # TSEM with paper A's schedule: cosine rate (T_max 15) and progressive data
    config = _run_config(
        "tsem",
        seed=4,
        hyperparameters={"dim": 8, "hidden": 16},
        progressive_fraction=0.5,
        progressive_threshold=0.5,
    )
    record = run_rating(config)
    dataset, split = dataset_and_split(config)
    by_hand = train_rating_model(
        "tsem",
        split,
        rating_inputs(dataset, split, ["tsem"]),
        TrainConfig(epochs=2, lr=0.02, patience=5, seed=4, progress=False),
        batch_size=256,
        model_kwargs={"dim": 8, "hidden": 16},
        cosine_t_max=15,
        progressive=ProgressiveData(0.5, 0.5, seed=4),
    )
    np.testing.assert_allclose(record.arrays["predictions"], by_hand.predictions, rtol=1e-6)
    np.testing.assert_allclose(record.arrays["history/train_loss"], by_hand.history.train_loss)
    np.testing.assert_allclose(record.arrays["history/val_mse"], by_hand.history.val_metric)
    assert record.metrics["n_parameters"] == by_hand.n_parameters
    history = record_history(record)
    assert history.best_epoch == by_hand.history.best_epoch
    assert record.metrics["val_rmse"] == pytest.approx(history.best_metric**0.5)
    assert history.train_loss == pytest.approx(by_hand.history.train_loss)
    np.testing.assert_array_equal(
        record.arrays["squared_error"],
        (by_hand.predictions - split.test["rating"].to_numpy(np.float64)) ** 2,
    )


def test_refit_in_a_config_keeps_the_selection_and_changes_the_model():
    kwargs = {"hyperparameters": {"dim": 4, "reg": 0.05}, "train": {"epochs": 12, "lr": 0.02}}
    chosen = run_rating(_run_config("mf", **kwargs))
    refitted = run_rating(_run_config("mf", refit=True, **kwargs))
    np.testing.assert_array_equal(
        refitted.arrays["history/val_mse"], chosen.arrays["history/val_mse"]
    )
    assert refitted.metrics["best_epoch"] == chosen.metrics["best_epoch"]
    assert not np.allclose(refitted.arrays["predictions"], chosen.arrays["predictions"])


def test_split_sizes_count_the_active_users_72_8_20():
    config = _run_config("mf", min_user_ratings=30, split_seed=3)
    dataset, split = dataset_and_split(config)
    assert dataset is load_dataset_spec(TINY)
    active = active_users(dataset.interactions, 30)
    assert active["user"].value_counts().min() >= 30
    assert active["user"].nunique() < dataset.interactions["user"].nunique()
    expected = rating_split(active, seed=3)
    pd.testing.assert_frame_equal(split.test, expected.test)
    sizes = split_sizes(config)
    n = len(active)
    assert (sizes["train"], sizes["validation"], sizes["test"]) == (
        n - round(0.2 * n) - round(0.08 * n),
        round(0.08 * n),
        round(0.2 * n),
    )
    assert sizes["users"] == active["user"].nunique()
    assert sizes["items"] == active["item"].nunique()


def test_a_run_reads_its_dataset_by_name(monkeypatch, tmp_path):
    """Configs name datasets; a registered loader is all a new dataset needs."""
    data = make_synthetic("tiny", seed=1)
    monkeypatch.setitem(mmrec_lib.data.DATASETS, "tiny-copy", lambda **kwargs: data)
    record = cached_run(_run_config("mf", dataset={"name": "tiny-copy"}), run_rating, tmp_path)
    same = run_rating(_run_config("mf"))
    np.testing.assert_array_equal(record.arrays["predictions"], same.arrays["predictions"])
