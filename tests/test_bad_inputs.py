"""Bad inputs end in a clear early error naming the cause, or in a logged repair; never in a
silently wrong result.

Each section tries one kind of damage, on synthetic data or on a damaged copy of a few files
of the real mirror made in ``tmp_path`` (never in the repository); tests that need the mirror
take the ``real_data_dir`` fixture, which skips when it is absent.

Rows (one section each; add new sections under a ``# --- <topic>`` header):

data
  1. side information absent or unreadable (``ml-1m/tml1m_movies.csv``): SideInfoError naming
     the file and the fixes, unless left out explicitly (``side_info=False``), which the
     dataset records and the notebook banner shows.
  2. posters swapped for another film's, garbage, empty or truncated: checked against the
     published SHA-256 once per load, left out with one warning, counted per cause in the
     coverage table; generated (synthetic) posters are only checked to decode.
  3. ``n_negatives=0`` for the sampled protocol: ValueError naming the value
     (``n_negatives=None`` asks for no sampled protocol).
  4. repeated (user, item) rows: every loader keeps the latest of each pair, with a warning,
     before any split; no pair lands in both train and test, no history repeats an item.

runs
  5. non-finite or non-positive learning rates: refused at config time; a diverging run (loss
     1000x its first batch's, NaN weights or scores, rating predictions pinned at the clip
     bounds) stops with an error that names the learning rate.
  6. damaged feature-cache entries, run records and checkpoints: a warning naming the path,
     the file moved aside, the result computed again; a sweep goes on past a damaged record.
  7. notebook parameters out of range: refused in the notebook's first code cell, before any
     data is read (the schemas: ``mmrec_lib.report.parameters``).
  8. finished runs leave no checkpoint behind; cache files follow the user's umask.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmrec_lib.data import (
    ChecksumError,
    DataNotFoundError,
    DataRepairWarning,
    Dataset,
    SideInfoError,
    dataset_spec,
    download,
    load_dataset,
)
from mmrec_lib.data.splits import leave_one_out, ratio_split
from mmrec_lib.data.synthetic import make_synthetic
from mmrec_lib.experiments.grids import rating_configs, table1_configs
from mmrec_lib.experiments.rating import rating_config, run_rating
from mmrec_lib.experiments.sequential import run_sequential, sequential_config
from mmrec_lib.experiments.store import cached_run, run_dir, run_key
from mmrec_lib.experiments.sweep import run_many
from mmrec_lib.features import cache
from mmrec_lib.models.training import TrainConfig
from mmrec_lib.paths import cache_dir
from mmrec_lib.report.parameters import check_notebook_parameters

# --- data ------------------------------------------------------------------------------------

ML_100K_FILES = ("ml-100k/u.data", "ml-100k/u.item", "ml-100k/u.genre", "ml-100k/u.user")
SIDE_FILES = ("ml-1m/movies.dat", "ml-1m/tml1m_movies.csv", "ml-1m/posters_SHA256SUMS.txt")
# ML-1M poster of ML-100K items 1 Toy Story, 2 GoldenEye, 3 Four Rooms, 4 Get Shorty,
# 5 Copycat, 6 Shanghai Triad, 7 Twelve Monkeys, 50 Star Wars
POSTER_OF_ITEM = {1: 1, 2: 10, 3: 18, 4: 21, 5: 22, 6: 30, 7: 32, 50: 260}


@pytest.fixture()
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache of the test's own (nothing cached can stand in for a damaged file),
    no downloads."""
    monkeypatch.setenv("MMREC_OFFLINE", "1")
    monkeypatch.setenv("MMREC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def copy_mirror(
    real: Path, target: Path, monkeypatch: pytest.MonkeyPatch, files, posters=()
) -> Path:
    """Copy a few files (and posters by ML-1M id) of the real mirror; point MMREC_DATA_DIR at
    the copy."""
    for path in files:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real / path, target / path)
    for movie in posters:
        (target / "ml-1m" / "posters").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real / f"ml-1m/posters/{movie}.jpg", target / f"ml-1m/posters/{movie}.jpg")
    monkeypatch.setenv("MMREC_DATA_DIR", str(target))
    return target


# Row 1: side information absent or unreadable


@pytest.mark.realdata
def test_absent_side_information_is_an_error_naming_file_and_fixes(
    real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    files = [*ML_100K_FILES, "ml-1m/movies.dat"]  # no tml1m_movies.csv
    copy_mirror(real_data_dir, tmp_path / "mirror", monkeypatch, files)
    with pytest.raises(SideInfoError, match="ml-1m/tml1m_movies.csv") as error:
        load_dataset("ml-100k")
    message = str(error.value)
    assert isinstance(error.value, DataNotFoundError)  # the one offline error type
    assert "TML1M.zip" in message  # fix 1: the download
    assert "point MMREC_DATA_DIR at a mirror" in message  # fix 2: a mirror
    assert 'load_dataset("ml-100k", side_info=False)' in message  # the explicit opt-out
    assert isinstance(error.value.__cause__, DataNotFoundError)


@pytest.mark.realdata
def test_unreadable_side_information_is_an_error_naming_the_file(
    real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    mirror = copy_mirror(real_data_dir, tmp_path / "mirror", monkeypatch, ML_100K_FILES)
    (mirror / "ml-1m").mkdir()
    shutil.copyfile(real_data_dir / "ml-1m/movies.dat", mirror / "ml-1m/movies.dat")
    cut = (real_data_dir / "ml-1m/tml1m_movies.csv").read_bytes()[:50_000]  # truncated copy
    (mirror / "ml-1m/tml1m_movies.csv").write_bytes(cut)
    with pytest.raises(SideInfoError, match="ml-1m/tml1m_movies.csv") as error:
        load_dataset("ml-100k")
    assert isinstance(error.value.__cause__, ChecksumError)
    assert "checksum mismatch" in str(error.value)
    assert "side_info=False" in str(error.value)


@pytest.mark.realdata
def test_side_information_left_out_on_purpose_is_recorded_and_shown(
    real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    from mmrec_lib.report.notebook import banner

    copy_mirror(real_data_dir, tmp_path / "mirror", monkeypatch, ML_100K_FILES)
    data = load_dataset("ml-100k", side_info=False)
    assert data.extras["side_info"] == "left out by the caller"
    assert "plot" not in data.items.columns and "poster_path" not in data.items.columns
    shown = banner("ml-100k", "smoke", data=data).data
    assert "Side information left out by the caller" in shown
    assert "left out" not in banner("ml-100k", "smoke").data


# Row 2: damaged posters


@pytest.mark.realdata
def test_damaged_posters_are_left_out_counted_and_named(
    real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    from mmrec_lib.report.plots.eda import coverage_table

    mirror = copy_mirror(
        real_data_dir,
        tmp_path / "mirror",
        monkeypatch,
        [*ML_100K_FILES, *SIDE_FILES],
        posters=POSTER_OF_ITEM.values(),
    )
    posters = mirror / "ml-1m" / "posters"
    (posters / "10.jpg").write_bytes((posters / "260.jpg").read_bytes())  # another film's
    (posters / "18.jpg").write_bytes(b"\x00garbage, not an image" * 50)
    (posters / "21.jpg").write_bytes(b"")
    whole = (posters / "22.jpg").read_bytes()
    (posters / "22.jpg").write_bytes(whole[: len(whole) // 2])  # a truncated JPEG

    with pytest.warns(DataRepairWarning, match="4 posters are not used") as caught:
        data = load_dataset("ml-100k")
    warned = " ".join(str(w.message) for w in caught if w.category is DataRepairWarning)
    assert "3 unreadable" in warned and "1 checksum mismatch" in warned
    assert "10.jpg (checksum mismatch)" in warned and "18.jpg (unreadable)" in warned

    status = data.extras["poster_status"]
    assert status.loc[[2, 3, 4, 5]].tolist() == [
        "checksum mismatch",
        "unreadable",
        "unreadable",
        "unreadable",
    ]
    assert data.items.loc[[2, 3, 4, 5], "poster_path"].isna().all()  # not used
    assert (status.loc[[1, 6, 7, 50]] == "present").all()
    assert data.items.loc[50, "poster_path"] == str(posters / "260.jpg")

    coverage = data.coverage.set_index("modality").loc["poster_path"]
    assert coverage["items_with"] == 4  # never counted as present
    assert (coverage["unreadable"], coverage["checksum_mismatch"]) == (3, 1)
    assert coverage["missing"] == len(data.items) - 8
    table = coverage_table(data.coverage).loc["poster_path"]
    assert (table["items with it"], table["unreadable"], table["checksum mismatch"]) == (4, 3, 1)


def test_undecodable_generated_poster_is_unreadable_and_others_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMREC_CACHE_DIR", str(tmp_path / "cache"))  # posters of this test's own
    fresh = make_synthetic("tiny")
    assert set(fresh.extras["poster_status"]) == {"present"}
    first, second, third = (Path(p) for p in fresh.items["poster_path"].iloc[:3])
    first.write_bytes(first.read_bytes()[:100])  # a damaged cache file: cannot be decoded
    second.write_bytes(third.read_bytes())  # another valid image: no checksum to tell
    with pytest.warns(DataRepairWarning, match="1 posters are not used .*delete"):
        again = make_synthetic("tiny")
    item = again.items.index[0]
    assert again.items.loc[item, "poster_path"] is None
    assert again.extras["poster_status"].loc[item] == "unreadable"
    assert again.items["poster_path"].iloc[1] == str(second)  # left alone
    coverage = again.coverage.set_index("modality").loc["poster_path"]
    assert (coverage["items_with"], coverage["unreadable"]) == (len(again.items) - 1, 1)
    assert coverage["checksum_mismatch"] == 0


def test_encoding_an_unreadable_poster_warns(tmp_path: Path) -> None:
    from mmrec_lib.features.image import UnreadablePosterWarning, encode_images

    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image")
    with pytest.warns(UnreadablePosterWarning, match="1 of 2 poster files could not be read"):
        features, mask = encode_images([garbage, None], cache=False)
    assert not mask.any() and not features.any()


# Row 3: n_negatives=0 for the sampled protocol


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return make_synthetic("tiny")


@pytest.mark.parametrize("n_negatives", [0, -1])
def test_no_sampled_negatives_is_refused(tiny: Dataset, n_negatives: int) -> None:
    with pytest.raises(ValueError, match=f"n_negatives={n_negatives}.*n_negatives=None"):
        leave_one_out(tiny.interactions, n_negatives=n_negatives)


def test_none_asks_for_full_ranking_only(tiny: Dataset) -> None:
    split = leave_one_out(tiny.interactions, n_negatives=None)
    assert split.negatives.shape == (split.n_users, 0)


# Row 4: repeated (user, item) rows


def assert_no_pair_leaks(data: Dataset) -> None:
    """No (user, item) pair in both train and test (or val) of the rating split, and no
    repeated item in any leave-one-out history."""
    split = ratio_split(data.interactions, test_frac=0.2, val_frac=0.1, seed=0)
    pairs = {
        part: set(zip(frame["user"], frame["item"], strict=True))
        for part, frame in (("train", split.train), ("val", split.val), ("test", split.test))
    }
    assert not pairs["train"] & pairs["test"]
    assert not pairs["train"] & pairs["val"] and not pairs["val"] & pairs["test"]
    loo = leave_one_out(data.interactions, n_negatives=None)
    for user in range(loo.n_users):
        history = [*loo.train_sequence(user), loo.val_item[user], loo.test_item[user]]
        assert len(set(history)) == len(history)


def test_planted_duplicates_keep_the_latest_row(
    tiny: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    """Synthetic ratings with repeats, served as an ml-latest-small mirror to its loader."""
    rows = tiny.interactions.sample(30, random_state=0)
    later = rows.assign(timestamp=rows["timestamp"] + 1, rating=np.float32(1.0))
    tied = later.iloc[:10].assign(rating=np.float32(5.0))  # same time: the last row wins
    planted = pd.concat([tiny.interactions, later, tied], ignore_index=True)
    movies = pd.DataFrame(
        {
            "movieId": tiny.items.index,
            "title": tiny.items["title"] + " (" + tiny.items["year"].astype(str) + ")",
            "genres": tiny.items["genres"].map("|".join),
        }
    )
    ratings = planted.rename(columns={"user": "userId", "item": "movieId"})
    files = {"ml-latest-small/ratings.csv": ratings, "ml-latest-small/movies.csv": movies}
    for path, frame in files.items():
        content = frame.to_csv(index=False).encode()
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
        entry = replace(download.FILES[path], sha256=hashlib.sha256(content).hexdigest())
        monkeypatch.setitem(download.FILES, path, entry)
    monkeypatch.setenv("MMREC_DATA_DIR", str(tmp_path))

    with pytest.warns(DataRepairWarning, match="dropped 40 repeated interaction rows of 30"):
        data = load_dataset("ml-latest-small")
    assert data.extras["duplicates_dropped"] == 40
    assert len(data.interactions) == len(tiny.interactions)
    assert not data.interactions.duplicated(["user", "item"]).any()
    kept = data.interactions.set_index(["user", "item"])["rating"]
    keys = list(zip(later["user"], later["item"], strict=True))
    assert kept.loc[keys[:10]].eq(5.0).all() and kept.loc[keys[10:]].eq(1.0).all()
    assert_no_pair_leaks(data)


@pytest.mark.realdata
def test_amazon_fashion_duplicates_never_leak_into_test(
    real_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    with pytest.warns(DataRepairWarning, match="dropped 134 repeated interaction rows"):
        data = load_dataset("amazon-fashion")
    assert data.extras["duplicates_dropped"] == 134
    assert not data.interactions.duplicated(["user", "item"]).any()
    assert_no_pair_leaks(data)


# --- runs ---------------------------------------------------------------------------------

RUN_DATA = dataset_spec("synthetic", "tiny", 0)
SEQUENTIAL = dict(dataset=RUN_DATA, n_negatives=20, max_len=10, d=16)


@pytest.mark.parametrize("lr", [float("inf"), float("nan"), 0.0, -1e-3, "0.1"])
def test_non_finite_or_non_positive_learning_rates_are_refused_at_config_time(lr):
    with pytest.raises(ValueError, match="lr must be a finite positive number"):
        TrainConfig(lr=lr)
    with pytest.raises(ValueError, match="lr must be"):
        sequential_config("sasrec", **SEQUENTIAL, train={"lr": lr})
    with pytest.raises(ValueError, match="lr must be"):
        rating_config("mf", dataset=RUN_DATA, train={"lr": lr})


@pytest.mark.parametrize(
    ("model", "message"),
    [("mf", "pinned at the clip bounds"), ("nn", "pinned at the clip bounds")],
)
def test_a_diverging_rating_model_stops_with_an_error_naming_the_learning_rate(model, message):
    (config,) = rating_configs([model], [0], dataset=RUN_DATA, train={"epochs": 3, "lr": 1e6})
    with pytest.raises(FloatingPointError, match=rf"{message}.*lr=1e\+06"):
        run_rating(config)


@pytest.mark.parametrize("model", ["bpr", "transrec", "sasrec", "bert4rec"])
def test_a_diverging_sequential_model_stops_with_an_error_naming_the_learning_rate(model):
    (config,) = table1_configs([model], [0], **SEQUENTIAL, train={"epochs": 3, "lr": 1e6})
    with pytest.raises(FloatingPointError, match=r"lower the learning rate \(lr=1e\+06\)"):
        run_sequential(config)


def test_a_sane_learning_rate_does_not_trip_the_divergence_checks():
    (config,) = table1_configs(["bpr"], [0], **SEQUENTIAL, train={"epochs": 3, "lr": 0.05})
    assert np.isfinite(run_sequential(config).metrics["sampled/NDCG@10"])


def test_a_damaged_feature_cache_entry_is_reported_moved_aside_and_recomputed(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"features": np.arange(6.0).reshape(2, 3)}

    first = cache.cached_arrays("probe", "damaged-entry", compute)
    path = cache.entry_path("probe", "damaged-entry")
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.warns(UserWarning, match=str(path)):
        again = cache.cached_arrays("probe", "damaged-entry", compute)
    np.testing.assert_array_equal(again["features"], first["features"])
    assert len(calls) == 2 and list(path.parent.glob(f"{path.name}.damaged-*"))
    np.testing.assert_array_equal(
        cache.cached_arrays("probe", "damaged-entry", compute)["features"], first["features"]
    )
    assert len(calls) == 2  # the repaired entry is read back


def test_a_damaged_checkpoint_is_reported_moved_aside_and_training_starts_afresh(tmp_path):
    (config,) = table1_configs(["sasrec"], [0], **SEQUENTIAL, train={"epochs": 2})
    clean = run_sequential(config)
    checkpoints = cache_dir("checkpoints", run_key(config))
    (checkpoints / "checkpoint.pt").write_bytes(b"not a torch checkpoint")
    with pytest.warns(UserWarning, match="checkpoint.*cannot be read"):
        again = run_sequential(config)
    assert again.metrics["sampled/NDCG@10"] == clean.metrics["sampled/NDCG@10"]


def test_finished_runs_leave_no_checkpoints_behind(tmp_path):
    for config in [
        *table1_configs(["sasrec"], [0], **SEQUENTIAL, train={"epochs": 2}),
        *rating_configs(["mf"], [0], dataset=RUN_DATA, train={"epochs": 2}, refit=True),
    ]:
        cached_run(config, run_sequential if config["paper"] == "B" else run_rating, tmp_path)
        assert not cache_dir("checkpoints").joinpath(run_key(config)).exists()


def test_cache_files_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        (config,) = rating_configs(["mf"], [0], dataset=RUN_DATA, train={"epochs": 1})
        cached_run(config, run_rating, tmp_path)
        cache.cached_arrays("probe", "umask", lambda: {"a": np.zeros(2)})
    finally:
        os.umask(previous)
    written = [*run_dir(config, tmp_path).iterdir(), cache.entry_path("probe", "umask")]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE(run_dir(config, tmp_path).stat().st_mode) == 0o755


def test_a_sweep_goes_on_past_a_damaged_run_record(tmp_path):
    configs = rating_configs(["mf"], [0, 1], dataset=RUN_DATA, train={"epochs": 1})
    first = run_many(configs, run_rating, root=tmp_path, progress=False)
    damaged = run_dir(configs[0], tmp_path) / "arrays.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.warns(UserWarning, match=str(run_dir(configs[0], tmp_path))):
        again = run_many(configs, run_rating, root=tmp_path, progress=False)
    assert [r.metrics["rmse"] for r in again] == [r.metrics["rmse"] for r in first]
    assert [r.from_cache for r in again] == [False, True]


def test_notebook_parameters_out_of_range_are_refused_before_any_data_is_read():
    values = {"dataset": "synthetic", "profile": "p", "seed": 0, "synthetic_size": "tiny",
              "n_seeds": 1, "n_negatives": -5, "models": ["sasrec"], "epochs": 0,
              "patience": 3, "lr": 1, "max_len": -3, "d": 8, "modalities": ["text"],
              "fusion": "concat", "text_encoder": "minilm",
              "image_encoder": "efficientnet-lite0", "tabular": "table", "sum_dim": 8,
              "device": "cpu", "n_workers": 1}  # fmt: skip
    with pytest.raises(ValueError) as error:
        check_notebook_parameters("30_paper_b_table1", values)
    for bad in ("epochs=0", "max_len=-3", "n_negatives=-5"):
        assert bad in str(error.value)
    assert "lr=" not in str(error.value)  # papermill's -p lr 1 arrives as an int: accepted
