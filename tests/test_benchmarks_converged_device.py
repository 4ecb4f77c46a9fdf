"""benchmarks/converged_device.py: a run from the carried folder is the recorded run (on the
CPU, bit for bit), whatever machine the item table was computed on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmrec_lib.data import dataset_spec
from mmrec_lib.experiments.grids import table2_configs
from mmrec_lib.experiments.sequential import run_sequential
from mmrec_lib.experiments.sweep import run_many

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def converged_device(load_benchmark):
    return load_benchmark("converged_device")


def test_book_configs_are_the_ones_notebook_40_records_under_the_ml100k_profile(
    converged_device,
):
    configs = converged_device.book_configs()
    assert sorted(c["model"] for c in configs) == ["bert4rec+", "sasrec+"]
    for config in configs:
        assert config["dataset"] == {"name": "ml-100k"}
        assert config["train"] == {
            "epochs": 200, "lr": 0.002, "patience": 15, "device": "auto", "seed": 0
        }  # fmt: skip
        assert config["modalities"] == ["text", "image", "tabular"] and config["max_len"] == 50


def test_a_carried_run_repeats_the_cpu_record_and_reports_beside_it(
    converged_device, tmp_path, monkeypatch
):
    configs = table2_configs(
        [0], dataset=dataset_spec("synthetic", "tiny", 0), n_negatives=20, max_len=8, d=8,
        modalities=["tabular"], features={"tabular": "table"}, train={"epochs": 2},
    )  # fmt: skip
    configs = [c for c in configs if c["model"] in converged_device.MODELS]
    results = tmp_path / "results"
    recorded = run_many(configs, run_sequential, root=tmp_path / "runs", results=results,
                        progress=False)  # fmt: skip
    mirror = tmp_path / "mirror"
    for name, files in converged_device.RATINGS.items():
        (mirror / name).mkdir(parents=True)
        for file in files or ["u.data"]:
            (mirror / name / file).write_text("a copy of the mirror's file")
    monkeypatch.setenv("MMREC_DATA_DIR", str(mirror))
    carried = tmp_path / "carried"
    converged_device.export(carried, configs, results)
    assert len(list(carried.glob("items-*.npy"))) == 1  # both models read the same table
    assert (carried / "data" / "ml-1m" / "tml1m_movies.csv").exists()
    out = tmp_path / "runs.json"
    converged_device.run(carried, amp=True, out=out)
    rows = json.loads(out.read_text())
    assert [(r["model"], r["precision"]) for r in rows] == [
        ("bert4rec+", "float32"), ("bert4rec+", "bf16"), ("sasrec+", "float32"), ("sasrec+", "bf16")
    ]  # fmt: skip
    by_model = {r.config["model"]: r for r in recorded}
    for row in rows:
        for name in converged_device.REPORTED:
            assert row["cpu"][name] == by_model[row["model"]].metrics[name]
            if row["precision"] == "float32" and not name.startswith("seconds"):
                assert row[name] == row["cpu"][name], name  # the same computation
        assert np.isfinite(row["sampled/NDCG@10"]) and row["seconds_per_epoch"] > 0
    body = converged_device.report(rows)
    assert body.count("CPU record") == 2 and body.count(", bf16") == 2
    with pytest.raises(SystemExit, match="no CPU record"):
        converged_device.export(carried, configs, tmp_path / "empty")
