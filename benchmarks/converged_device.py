"""Converged runs of the book's ML-100K configs on another machine (a GPU), beside the CPU record.

A GPU machine here has no MovieLens posters and no text or image encoders (their weights
come with packages over its size limit), so the runs' item tables are computed on this
machine and carried there with the configs and the ratings:

    .venv/bin/python benchmarks/converged_device.py export .carried          # here
    python benchmarks/converged_device.py run .carried --amp --out result.json  # there
    .venv/bin/python benchmarks/converged_device.py report result.json --write-readme

``export`` writes each config (Table 2's SASRec+ and BERT4Rec+, seed 0, as notebook 40 builds
them under the ml-100k profile), its item table, the recorded CPU run's metrics and a copy of
the ratings and plots (not the posters). ``run`` trains each config with the device its
``"auto"`` picks (CUDA on a GPU machine), in float32 and, with ``--amp``, in bf16 autocast,
and writes the metrics and seconds; it stores no record (``results/`` holds CPU runs only:
CUDA kernels do not compute the CPU's numbers bit for bit). ``report`` prints them beside
the CPU records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from readme import markdown_table, write_section

SECTION = "Converged runs on a GPU (ML-100K)"
MODELS = ("sasrec+", "bert4rec+")
REPORTED = ("epochs", "best_epoch", "seconds_train", "sampled/NDCG@10", "full/NDCG@10")
RATINGS = {"ml-100k": None, "ml-1m": ("README", "movies.dat", "tml1m_movies.csv")}
"""The mirror's files the ml-100k dataset reads (None: the whole folder); no posters."""


def book_configs(models=MODELS, seed: int = 0) -> list[dict]:
    """Table 2's configs of ``models`` for ``seed`` under the ml-100k profile (notebook 40)."""
    from mmrec_lib.data import dataset_spec
    from mmrec_lib.experiments.grids import table2_configs
    from mmrec_lib.report.runbook import (
        load_profile,
        notebook_defaults,
        notebook_parameters,
        notebook_paths,
    )

    (notebook,) = [p for p in notebook_paths() if p.stem == "40_paper_b_significance"]
    profile = load_profile("ml-100k")
    p = {**notebook_defaults(notebook), **notebook_parameters(profile, notebook)}
    common = dict(
        dataset=dataset_spec(p["dataset"], p["synthetic_size"], p["seed"]),
        split_seed=p["seed"],
        n_negatives=p["n_negatives"],
        modalities=p["modalities"],
        fusion=p["fusion"],
        max_len=p["max_len"],
        d=p["d"],
        features={
            "text": p["text_encoder"],
            "image": p["image_encoder"],
            "tabular": p["tabular"],
            "sum_dim": p["sum_dim"],
        },
        train={
            "epochs": p["epochs"],
            "lr": p["lr"],
            "patience": p["patience"],
            "device": p["device"],
        },
    )
    return [c for c in table2_configs([seed], **common) if c["model"] in models]


def export(folder: Path, configs: list[dict], results: Path) -> None:
    """Each config, its item table and its CPU record's metrics, and the ratings, in ``folder``."""
    from mmrec_lib.experiments.results import recorded
    from mmrec_lib.experiments.sequential import item_input
    from mmrec_lib.paths import mirror_dir

    mirror = mirror_dir()
    if mirror is None:
        raise SystemExit("export reads the ratings from the mirror: set MMREC_DATA_DIR")
    records = [recorded(config, results) for config in configs]
    for config, cpu in zip(configs, records, strict=True):
        if cpu is None:
            raise SystemExit(f"{config['model']}: no CPU record in {results}; run it first")
    folder.mkdir(parents=True, exist_ok=True)
    for name, files in RATINGS.items():
        target = folder / "data" / name
        shutil.rmtree(target, ignore_errors=True)
        if files is None:
            shutil.copytree(mirror / name, target)
        else:
            target.mkdir(parents=True)
            for file in files:
                shutil.copy2(mirror / name / file, target / file)
    for config, cpu in zip(configs, records, strict=True):
        items = item_input(config)
        digest = hashlib.sha256(items.tobytes()).hexdigest()[:16]
        table = f"items-{digest}.npy"  # one file for the configs that read equal tables
        np.save(folder / table, items)
        described = {
            "config": config,
            "items": table,
            "cpu": cpu.metrics,
            "cpu_provenance": cpu.provenance,
        }
        (folder / f"config-{config['model']}.json").write_text(json.dumps(described, indent=1))
        print(f"exported {config['model']}, CPU record: {cpu.metrics['sampled/NDCG@10']:.4f}")


def run(folder: Path, amp: bool, out: Path) -> None:
    """Every exported config trained here, in float32 and (with ``amp``) bf16 autocast; the
    runs so far are in ``out`` as each finishes."""
    import torch

    from mmrec_lib.device import resolve_device
    from mmrec_lib.experiments.sequential import run_sequential

    device = resolve_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    rows = []
    for path in sorted(folder.glob("config-*.json")):
        described = json.loads(path.read_text())
        items = np.load(folder / described["items"])
        for precision in ("float32", "bf16") if amp else ("float32",):
            config = json.loads(json.dumps(described["config"]))
            if precision == "bf16":
                config["train"]["amp"] = True
            started = time.perf_counter()
            with _mirror(folder / "data"):
                record = run_sequential(config, item_features=items)
            metrics = {k: record.metrics[k] for k in REPORTED}
            row = {
                "model": config["model"],
                "precision": precision,
                "device": name,
                **metrics,
                "seconds_per_epoch": float(np.mean(record.arrays["history/seconds"])),
                "wall_seconds": time.perf_counter() - started,
                "cpu": {k: described["cpu"][k] for k in REPORTED},
                "cpu_machine": described["cpu_provenance"].get("machine"),
                "torch": torch.__version__,
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
            out.write_text(json.dumps(rows, indent=1))


@contextmanager
def _mirror(folder: Path):
    """``MMREC_DATA_DIR`` set to ``folder`` while the block runs."""
    from mmrec_lib.paths import DATA_DIR_ENV

    before = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(folder.resolve())
    try:
        yield
    finally:
        if before is None:
            del os.environ[DATA_DIR_ENV]
        else:
            os.environ[DATA_DIR_ENV] = before


def report(rows: list[dict]) -> str:
    """The runs beside their CPU records, as the README section's body."""

    def line(row: dict, where: str, values: dict) -> dict:
        return {
            "model": row["model"].replace("sasrec", "SASRec").replace("bert4rec", "BERT4Rec"),
            "where": where,
            "epochs (best)": f"{int(values['epochs'])} ({int(values['best_epoch'])})",
            "s / epoch": values["seconds_train"] / values["epochs"],
            "train s": values["seconds_train"],
            "sampled NDCG@10": values["sampled/NDCG@10"],
            "full NDCG@10": values["full/NDCG@10"],
        }

    lines = []
    for row in rows:
        if row["precision"] == "float32":  # the CPU record first, once per model
            lines.append(line(row, f"CPU record ({row['cpu_machine']}), float32", row["cpu"]))
        lines.append(line(row, f"{row['device']}, {row['precision']}", row))
    table = pd.DataFrame(lines)
    first = rows[0]
    return "\n".join(
        [
            "`python benchmarks/converged_device.py run .carried --amp` on one "
            f"{first['device']} (torch {first['torch']}), beside the recorded CPU run of "
            "the same config (`results/ml-100k`, computed single-threaded on a shared 2-core "
            "machine). Configs: Table 2's, seed 0, under the ml-100k profile (200 epochs at "
            "most, early stopping after 15 without a better validation NDCG@10); item "
            "tables computed on the CPU machine and carried (see the script's docstring). "
            f"Date: {time.strftime('%Y-%m-%d')}.",
            "",
            markdown_table(table.set_index("model")),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    out = verbs.add_parser("export", help="configs, item tables and ratings into a folder")
    out.add_argument("folder", type=Path)
    out.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    out.add_argument("--results", type=Path, default=Path("results/ml-100k"))
    there = verbs.add_parser("run", help="train the exported configs on this machine")
    there.add_argument("folder", type=Path)
    there.add_argument("--amp", action="store_true", help="also train in bf16 autocast")
    there.add_argument("--out", type=Path, required=True, help="the runs' JSON")
    back = verbs.add_parser("report", help="the runs beside the CPU records")
    back.add_argument("runs", type=Path)
    back.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    if args.verb == "export":
        export(args.folder, book_configs(args.models), args.results)
    elif args.verb == "run":
        run(args.folder, args.amp, args.out)
    else:
        body = report(json.loads(args.runs.read_text()))
        print(body)
        if args.write_readme:
            write_section(SECTION, body)


if __name__ == "__main__":
    main()
