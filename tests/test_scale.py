"""ML-20M scale: the ML-20M-shaped generator, the scale benchmark's pipeline on a small
version of it, and the training loop's options for accelerators (amp, compile)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mmrec_lib.data.splits import leave_one_out
from mmrec_lib.data.synthetic_scale import (
    FIRST_TIMESTAMP,
    HALF_STARS,
    LAST_TIMESTAMP,
    ML_20M_RATING_COUNTS,
    ScaleConfig,
    history_lengths,
    make_scale_dataset,
    scale_config,
)
from mmrec_lib.models.sequential import SASRec
from mmrec_lib.models.training import (
    TrainConfig,
    _epoch_seed,
    _fingerprint,
    checked_train,
    fit,
    seed_everything,
)

SMALL = ScaleConfig(n_users=2_000, n_items=1_500, n_interactions=100_000)
RATING_VARIANCE = float(np.average((HALF_STARS - 3.53) ** 2, weights=ML_20M_RATING_COUNTS))


@pytest.fixture(scope="module")
def small():
    return make_scale_dataset(SMALL, seed=0)


def test_counts_dtypes_and_the_dataset_contract(small):
    frame = small.interactions
    assert len(frame) == SMALL.n_interactions
    assert small.n_users == SMALL.n_users and small.n_items == SMALL.n_items  # all rated
    assert len(small.items) == SMALL.n_items and len(small.users) == SMALL.n_users
    assert frame.dtypes.to_dict() == {
        "user": np.dtype("int64"),
        "item": np.dtype("int64"),
        "rating": np.dtype("float32"),
        "timestamp": np.dtype("int64"),
    }
    assert not frame.duplicated(["user", "item"]).any()
    assert frame["user"].is_monotonic_increasing
    assert set(np.unique(frame["rating"])) <= set(HALF_STARS.tolist())
    same_user = np.diff(frame["user"].to_numpy()) == 0
    assert (np.diff(frame["timestamp"].to_numpy())[same_user] > 0).all()  # strictly rising
    assert frame["timestamp"].between(FIRST_TIMESTAMP, LAST_TIMESTAMP).all()
    assert {"title", "year", "genres", "plot", "cast", "director", "runtime"} <= set(small.items)
    assert "poster_path" not in small.items  # no posters: image features fall back to zeros
    assert small.items["plot"].str.len().gt(40).all()


def test_popularity_and_history_lengths_are_long_tailed(small):
    counts = small.interactions["item"].value_counts().to_numpy()  # sorted, most rated first
    top_share = counts[: len(counts) // 100].sum() / counts.sum()
    assert top_share > 0.08  # the top 1 % of items hold over 8 % of the interactions
    assert counts[: len(counts) // 10].sum() / counts.sum() > 0.4
    assert np.median(counts) < counts.mean() / 2
    lengths = small.interactions.groupby("user").size()
    assert lengths.min() >= SMALL.min_history
    assert lengths.max() <= SMALL.longest_history
    assert lengths.mean() > 1.5 * lengths.median()
    assert lengths.max() > 4 * lengths.median()


def test_ratings_have_ml_20m_shares(small):
    shares = small.interactions["rating"].value_counts(normalize=True).sort_index()
    expected = ML_20M_RATING_COUNTS / ML_20M_RATING_COUNTS.sum()
    np.testing.assert_allclose(shares.to_numpy(), expected, atol=0.002)


def test_genome_covers_the_most_rated_items(small):
    genome = small.extras["genome"]
    assert genome.shape == (SMALL.genome_items, 1_128) == (582, 1_128)
    assert genome.dtypes.eq(np.float32).all() and genome.columns.is_unique
    values = genome.to_numpy()
    assert ((values > 0) & (values < 1)).all()
    assert 0.05 < np.median(values) < 0.3  # mostly low relevance, as in ML-20M's genome
    counts = small.interactions["item"].value_counts()
    assert counts[genome.index].min() >= counts.drop(genome.index).max()


def test_same_seed_same_tables_another_seed_others(small):
    again = make_scale_dataset(SMALL, seed=0)
    pd.testing.assert_frame_equal(again.interactions, small.interactions)
    pd.testing.assert_frame_equal(again.items, small.items)
    pd.testing.assert_frame_equal(again.extras["genome"], small.extras["genome"])
    other = make_scale_dataset(SMALL, seed=1)
    assert not other.interactions["item"].equals(small.interactions["item"])


def test_full_size_history_lengths_have_ml_20m_shape():
    config = ScaleConfig()
    lengths = history_lengths(config, np.random.default_rng(0).standard_normal(config.n_users))
    assert lengths.sum() == 20_000_263 and len(lengths) == 138_493
    assert lengths.min() == 20 and lengths.max() == config.longest_history == 9_360
    assert 60 <= np.median(lengths) <= 76  # ML-20M: 68


def test_scale_config_keeps_the_average_history():
    config = scale_config(0.01)
    assert (config.n_users, config.n_items, config.n_interactions) == (1_385, 2_674, 200_003)
    assert config.n_interactions / config.n_users == pytest.approx(144.4, abs=0.1)
    assert config.genome_items == round(2_674 * 10_381 / 26_744)
    assert scale_config(0.01, n_items=2_000).n_items == 2_000


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"n_interactions": 10_000}, "do not fit"),
        ({"n_items": 10}, "at least 18"),
        ({"genome_items": 2_000}, "cannot exceed"),
        ({"min_history": 600}, "exceeds the longest"),
        ({"n_users": 2.5}, "must be int"),
    ],
)
def test_bad_sizes_fail_early(settings, message):
    sizes = {"n_users": 2_000, "n_items": 1_500, "n_interactions": 100_000} | settings
    with pytest.raises(ValueError, match=message):
        ScaleConfig(**sizes)


def test_the_split_of_the_generated_data_has_room_for_100_negatives(small):
    split = leave_one_out(small.interactions, n_negatives=100, seed=0)
    assert split.n_users == SMALL.n_users
    assert split.negatives.shape == (SMALL.n_users, 100)


@pytest.fixture()
def scale_benchmark(load_benchmark):
    return load_benchmark("scale")


@pytest.mark.slow
def test_the_benchmark_pipeline_runs_every_stage_on_a_small_dataset(scale_benchmark):
    options = scale_benchmark.ScaleOptions(booster={"n_estimators": 10, "max_depths": (3,)})
    table, results = scale_benchmark.run_pipeline(SMALL, options, progress=False)
    for stage in (
        "generate",
        "k-core (5, 5)",
        "leave-one-out, 100 negatives",
        "features: XGBoost leaf embeddings",
        "SASRec+: 1 epoch",
        "SASRec+: full evaluation (test)",
        "BERT4Rec+: sampled evaluation (test)",
        "TSEM + genome: 1 epoch",
        "TSEM: validation MSE",
    ):
        assert stage in table.index
    assert len(table) == 17
    assert (table["seconds"] >= 0).all()
    assert (table["peak RSS (MiB)"] > 0).all()
    n_items = results["split"]["n_items"]
    for model in ("sasrec+", "bert4rec+"):
        assert results[model]["batches"] == results[model]["batches_per_epoch"] > 0
        assert results[model]["full/ranks"].max() < n_items
        assert results[model]["sampled/ranks"].max() <= 100
        assert 0.08 < results[model]["sampled/NDCG@10"] < 1  # chance: about 0.046
    assert np.isfinite(results["tsem"]["val_mse"])
    assert results["tsem"]["val_mse"] < 1.5 * RATING_VARIANCE  # about 1.1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_benchmark_pipeline_trains_and_ranks_on_the_gpu_in_bf16(scale_benchmark):
    options = scale_benchmark.ScaleOptions(
        booster={"n_estimators": 10, "max_depths": (3,)}, device="cuda", amp=True
    )
    table, results = scale_benchmark.run_pipeline(SMALL, options, progress=False)
    assert len(table) == 17
    assert table.loc["SASRec+: 1 epoch", "peak GPU (MiB)"] > 0
    for model in ("sasrec+", "bert4rec+"):
        assert 0.08 < results[model]["sampled/NDCG@10"] < 1
    assert results["tsem"]["val_mse"] < 1.5 * RATING_VARIANCE


# --- Training options for accelerators (TrainConfig.amp, TrainConfig.compile) ------------


def _tiny_split():
    rng = np.random.default_rng(0)
    n_users, n_items, per_user = 40, 60, 12
    users = np.repeat(np.arange(1, n_users + 1), per_user)
    items = np.concatenate(
        [rng.choice(np.arange(1, n_items + 1), per_user, replace=False) for _ in range(n_users)]
    )
    frame = pd.DataFrame(
        {"user": users, "item": items, "rating": np.float32(4), "timestamp": np.arange(len(users))}
    )
    return leave_one_out(frame, n_negatives=20, seed=0)


def _tiny_sasrec_fit(device: str = "cpu", **options):
    split = _tiny_split()
    torch.manual_seed(0)
    model = SASRec.from_split(split, max_len=8, d=16, negatives=16)
    config = TrainConfig(
        epochs=3, lr=0.01, seed=0, progress=False, threads=1, device=device, **options
    )
    history = fit(
        model,
        lambda rng, _: model.training_batches(split, rng, 16),
        lambda m, batch: m.loss(batch),
        None,
        config,
    )
    return model, history


def _plain_loop():
    """The tiny fit of :func:`_tiny_sasrec_fit` as a plain training loop, the loop before amp
    and compile existed: the same epoch seeds, batches, Adam steps and per-epoch mean loss."""
    split = _tiny_split()
    torch.manual_seed(0)
    model = SASRec.from_split(split, max_len=8, d=16, negatives=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_loss = []
        for epoch in range(3):
            rng = seed_everything(_epoch_seed(0, epoch))
            model.train()
            total, count = 0.0, 0
            for batch in model.training_batches(split, rng, 16):
                loss = model.loss(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, count = total + loss.item(), count + 1
            train_loss.append(total / count)
    finally:
        torch.set_num_threads(previous_threads)
    return model, train_loss


# Computed with the training loop as it was before amp and compile existed (commit c9787c7),
# on x86_64 (AVX-512, AMD EPYC), torch 2.14.1, one thread. Another CPU's kernels may round
# differently, and the differences grow over the training steps: on an Intel Xeon the losses
# agree to 1e-6 but the final weights' sum only to 4e-5, so the weights are checked against
# the plain loop above, on the machine the test runs on.
BEFORE_THE_OPTIONS = {
    "train_loss": [2.999171733856201, 2.885551166534424, 2.8193045616149903],
    "first_loss": 3.0041284561157227,
}


def test_with_both_options_off_training_reproduces_the_loop_before_them():
    """Bit for bit against the plain loop; the losses also to the values recorded before the
    options existed, to float32 rounding (another CPU may sum in another order)."""
    model, history = _tiny_sasrec_fit(amp=False, compile=False)
    plain_model, plain_loss = _plain_loop()
    assert history.train_loss == plain_loss
    for name, weights in plain_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], weights), name
    assert history.train_loss == pytest.approx(BEFORE_THE_OPTIONS["train_loss"], rel=1e-6)
    assert history.first_loss == pytest.approx(BEFORE_THE_OPTIONS["first_loss"], rel=1e-6)


def test_with_both_options_off_neither_autocast_nor_compile_is_called(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("called with the options off")

    monkeypatch.setattr(torch, "autocast", refuse)
    monkeypatch.setattr(torch, "compile", refuse)
    _, history = _tiny_sasrec_fit()
    assert history.train_loss == pytest.approx(BEFORE_THE_OPTIONS["train_loss"], rel=1e-6)


def test_amp_trains_in_bfloat16_on_cpu_close_to_float32():
    _, history = _tiny_sasrec_fit(amp=True)
    assert history.train_loss != BEFORE_THE_OPTIONS["train_loss"]
    np.testing.assert_allclose(history.train_loss, BEFORE_THE_OPTIONS["train_loss"], rtol=2e-3)


def test_the_options_change_no_run_config_nor_checkpoint_fingerprint():
    from mmrec_lib.experiments.sequential import sequential_config

    config = sequential_config("sasrec", dataset={"name": "synthetic"})
    assert "amp" not in config["train"] and "compile" not in config["train"]
    assert "amp" not in _fingerprint(TrainConfig()) and "compile" not in _fingerprint(TrainConfig())
    assert _fingerprint(TrainConfig(amp=True))["amp"] is True
    assert checked_train({"amp": True, "compile": True}) == {"amp": True, "compile": True}
    with pytest.raises(ValueError, match="amp must be True or False"):
        TrainConfig(amp=1)


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="GPU only: compiling even this tiny SASRec took 100-130 s on the 2-core CPU",
)
def test_compile_and_amp_train_on_the_gpu():
    model, history = _tiny_sasrec_fit(device="cuda", compile=True, amp=True)
    assert np.isfinite(history.train_loss).all()
    assert history.train_loss[-1] < history.train_loss[0]
    assert not any(key.startswith("_orig_mod") for key in model.state_dict())
