"""Our biased MF beside Surprise's SVD and SVD++ and Cornac's MF on the same ML-100K split.

The script (run from .venv) builds the experiments' 72/8/20 split
(:func:`mmrec_lib.experiments.rating.rating_split`: a random 80/20 split, a tenth of the 80 %
held out as validation), writes its train, validation and test rows (user, item, rating) to a
temporary folder, and measures every row of the table in a fresh process of its own: ours
(:func:`~mmrec_lib.experiments.rating.run_rating`, early stopping on validation, then refit on
the whole 80 %) in .venv, the references in .venv-reference-rating, by this same script's
``--worker`` mode, which imports only numpy, pandas and the reference library. Each reference
runs twice: with its library's defaults, fitted on the whole 80 %; and tuned, the grid point
(:data:`GRIDS`) with the lowest validation RMSE refitted on the whole 80 %. Every model is
tested once, on the 20 % test rows; nothing is chosen on them.

Install the references (a venv of its own; never into .venv), from the repository root:

    python3.11 -m venv .venv-reference-rating
    .venv-reference-rating/bin/pip install -r benchmarks/requirements-reference-rating.txt

Run (about 15 minutes on 2 busy CPU cores, most of it SVD++'s grid and refit):

    MMREC_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/reference_rating.py \\
        --write-readme
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from memory import measured
from readme import markdown_table, write_section

SECTION = "Reference rating models (Surprise, Cornac) (`reference_rating.py`)"
ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PYTHON = ROOT / ".venv-reference-rating" / "bin" / "python"
INSTALL = (
    "python3.11 -m venv .venv-reference-rating && "
    ".venv-reference-rating/bin/pip install -r benchmarks/requirements-reference-rating.txt"
)
PARTS, COLUMNS = ("train", "val", "test"), ("user", "item", "rating")
MODELS = {"mmrec-mf": "MF", "surprise-svd": "SVD", "surprise-svdpp": "SVD++", "cornac-mf": "MF"}
FIXED = {  # what every fit of a reference gets besides defaults or a grid point
    "surprise-svd": {"random_state": 0},
    "surprise-svdpp": {"random_state": 0},
    "cornac-mf": {"use_bias": True, "seed": 0},  # a seed also makes Cornac use one thread
}
GRIDS = {  # in each library's own argument names; every combination is tried on validation
    "surprise-svd": {
        "n_factors": [50, 200],
        "n_epochs": [20, 50],
        "lr_all": [0.005, 0.01],
        "reg_all": [0.02, 0.05, 0.1],
    },
    "surprise-svdpp": {"n_factors": [20, 50], "reg_all": [0.02, 0.05, 0.1]},
    "cornac-mf": {
        "k": [50, 200],
        "max_iter": [20, 50],
        "learning_rate": [0.005, 0.01],
        "lambda_reg": [0.02, 0.05, 0.1],
    },
}


def _model(name: str, params: dict, train: pd.DataFrame):
    """(fit, predict) of reference ``name`` with ``params``, its training set built from
    ``train``: ``fit()`` trains it; ``predict(frame)`` is then its predictions for the frame's
    rows (clipped by the library to the training range)."""
    if name.startswith("surprise"):
        import surprise

        reader = surprise.Reader(rating_scale=(train.rating.min(), train.rating.max()))
        data = surprise.Dataset.load_from_df(train[list(COLUMNS)], reader).build_full_trainset()
        model = (surprise.SVDpp if name == "surprise-svdpp" else surprise.SVD)(**params)
        return lambda: model.fit(data), lambda frame: np.array(
            [model.predict(u, i).est for u, i in frame[["user", "item"]].to_numpy()]
        )
    import cornac

    rows = zip(*(train[column].tolist() for column in COLUMNS), strict=True)  # Python scalars
    data = cornac.data.Dataset.from_uir(rows, seed=0)
    model = cornac.models.MF(**params)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        users = frame.user.map(data.uid_map).fillna(-1).astype(int)  # -1: unknown to Cornac
        items = frame.item.map(data.iid_map).fillna(-1).astype(int)
        return np.array([float(model.rate(u, i)) for u, i in zip(users, items, strict=True)])

    return lambda: model.fit(data), predict


def _validation_errors(name: str, params: dict, frames: dict) -> dict:
    """RMSE and MAE on validation of the reference fitted on train with ``params``."""
    fit, predict = _model(name, params, frames["train"])
    fit()
    return _errors(predict(frames["val"]), frames["val"])


def _errors(predictions: np.ndarray, frame: pd.DataFrame) -> dict:
    errors = predictions - frame.rating.to_numpy(np.float64)
    return {"rmse": float(np.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors)))}


def _library(name: str) -> str:
    module = importlib.import_module(name.split("-")[0])
    return f"{module.__name__.capitalize()} {module.__version__}"


def reference_worker(name: str, setting: str, data: Path) -> dict:
    """One reference row: defaults, or the best grid point on validation; fit on train +
    validation, tested on test."""
    library = _library(name)  # imported here, so that no fit times the import
    frames = {part: pd.DataFrame(dict(np.load(data / f"{part}.npz"))) for part in PARTS}
    chosen, out = {}, {"val_rmse": None, "selection_s": None}
    text = f"defaults ({_arguments(FIXED[name])})"
    if setting == "tuned":
        started = time.perf_counter()
        grid = GRIDS[name]
        points = [dict(zip(grid, p, strict=True)) for p in itertools.product(*grid.values())]
        scores = [_validation_errors(name, {**FIXED[name], **p}, frames) for p in points]
        best = int(np.argmin([score["rmse"] for score in scores]))
        chosen = points[best]
        out = {"val_rmse": scores[best]["rmse"], "selection_s": time.perf_counter() - started}
        text = f"best of {len(points)} grid points: {_arguments(chosen)}"
    train = pd.concat([frames["train"], frames["val"]], ignore_index=True)
    fit, predict = _model(name, {**FIXED[name], **chosen}, train)
    _, cost = measured(fit)
    test = _errors(predict(frames["test"]), frames["test"])
    return {
        "library": library,
        "numpy": np.__version__,
        "setting": text,
        **out,
        "test_rmse": test["rmse"],
        "test_mae": test["mae"],
        **cost,
    }


def _arguments(params: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in params.items())


def ours_worker(data: Path, threads: int) -> dict:
    """Our MF's row: run_rating on the exported config (early stopping on validation, refit
    on train + validation for the chosen epochs, tested on test)."""
    import torch
    from fresh import fresh_checkpoints

    from mmrec_lib.experiments.rating import dataset_and_split, model_inputs, run_rating
    from mmrec_lib.experiments.store import run_key

    torch.set_num_threads(threads)
    config = json.loads((data / "config.json").read_text())
    dataset_and_split(config)  # the data, side information and fingerprint: not timed
    model_inputs(config)
    run_key(config)
    fresh_checkpoints(config)
    record, cost = measured(lambda: run_rating(config))
    metrics, seconds = record.metrics, record.arrays["history/seconds"]
    selection, best = float(seconds.sum()), int(metrics["best_epoch"])
    train = config["train"]
    return {
        "library": f"mmrec_lib (torch {torch.__version__})",
        "numpy": np.__version__,
        "setting": (
            f"{_arguments(config['hyperparameters'])}, Adam lr={train['lr']}, batch="
            f"{config['batch_size']}; early stopping (patience {train['patience']}) chose "
            f"{best} of {train['epochs']} epochs, refit for those"
        ),
        "val_rmse": metrics["val_rmse"],
        "selection_s": selection,  # the early-stopping run (validation passes included)
        "s_per_epoch": float(np.median(seconds)),
        "s_to_best": float(seconds[:best].sum()),  # up to the end of the best epoch
        "test_rmse": metrics["rmse"],
        "test_mae": metrics["mae"],
        **cost,
        "fit_s": cost["fit_s"] - selection,  # the refit, checkpoints and the test pass
    }


def export_split(args: argparse.Namespace, directory: Path) -> dict:
    """Write our MF's run config and its split's rows to ``directory``; the split's sizes."""
    from mmrec_lib.data import dataset_spec
    from mmrec_lib.experiments.rating import dataset_and_split, rating_config

    config = rating_config(
        "mf",
        dataset=dataset_spec(args.dataset),
        seed=0,
        split_seed=args.seed,
        batch_size=args.batch_size,
        train={"epochs": args.epochs, "lr": args.lr, "patience": args.patience},
        hyperparameters=args.mf_hyper,
        refit=True,
    )
    _, split = dataset_and_split(config)
    for part in PARTS:
        frame = getattr(split, part)
        np.savez(directory / f"{part}.npz", **{c: frame[c].to_numpy() for c in COLUMNS})
    (directory / "config.json").write_text(json.dumps(config))
    known = pd.concat([split.train, split.val])
    return {
        **{part: len(getattr(split, part)) for part in PARTS},
        "users": pd.concat([known, split.test]).user.nunique(),
        "items": pd.concat([known, split.test]).item.nunique(),
        "cold": int((~split.test.item.isin(known.item) | ~split.test.user.isin(known.user)).sum()),
    }


def run_worker(python: Path | str, name: str, setting: str, data: Path, threads: int) -> dict:
    """One worker in a fresh process; its JSON line, with the row's model name."""
    command = [str(python), __file__, "--worker", name, "--setting", setting, "--data", str(data)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    done = subprocess.run(
        [*command, "--threads", str(threads)], env=env, stdout=subprocess.PIPE, text=True
    )
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed (exit {done.returncode})")
    row = {"model": MODELS[name] + (" (ours)" if name == "mmrec-mf" else ""), "name": name}
    row.update(json.loads(done.stdout.strip().splitlines()[-1]))
    print(row, flush=True)
    return row


def table(rows: list[dict]) -> pd.DataFrame:
    """The Markdown-ready table; validation RMSE and selection seconds only where tuned."""
    frame = pd.DataFrame(rows).set_index("model")
    optional = {"val_rmse": "validation RMSE", "selection_s": "selection s"}
    for column in optional:
        frame[column] = [f"{v:.3f}" if pd.notna(v) else "-" for v in frame[column]]
    names = {
        "library": "library",
        "setting": "setting",
        **optional,
        "test_rmse": "test RMSE",
        "test_mae": "test MAE",
        "fit_s": "fit s",
        "rss_before": "RSS before fit (MiB)",
        "peak_rss": "peak RSS in fit (MiB)",
    }
    return frame[list(names)].rename(columns=names)


def _description(rows, sizes, args, seconds: float, loads: list[float]) -> str:
    command = " ".join(["python", "benchmarks/reference_rating.py", *sys.argv[1:]])
    reference = next(row for row in rows if row["name"] != "mmrec-mf")
    libraries = ", ".join(sorted({row["library"] for row in rows}))
    grids = "; ".join(
        f"{MODELS[name]} ({name.split('-')[0]}): "
        + ", ".join(f"{key} {values}" for key, values in grid.items())
        for name, grid in GRIDS.items()
    )
    return (
        f"`{command}` on {platform.processor() or platform.machine()} ({os.cpu_count()} "
        f"cores, shared with other jobs: load average {min(loads):.1f} to {max(loads):.1f}, so "
        f"the seconds are indicative), one thread per model, {time.strftime('%Y-%m-%d')}, "
        f"{seconds / 60:.0f} minutes in all. {libraries}; numpy {np.__version__} in .venv, "
        f"{reference['numpy']} in .venv-reference-rating (see "
        "`requirements-reference-rating.txt`).\n\n"
        f"The same split for all: {args.dataset}, random 80/20 (seed {args.seed}) with a tenth "
        f"of the 80 % as validation: {sizes['train']:,} / {sizes['val']:,} / {sizes['test']:,} "
        f"train / validation / test rows, {sizes['users']:,} users, {sizes['items']:,} items; "
        f"the references read the rows our `rating_split` made. {sizes['cold']} test rows have "
        "a user or item absent from train + validation: Surprise predicts them from its global "
        "mean and the biases it knows, Cornac gives an unknown item its global mean, ours reads "
        "never-trained embeddings (zero biases, factors of std `init_std`). Every model is "
        "fitted on the whole 80 % (train + validation) and tested once on the 20 %; each clips "
        "its predictions to the training ratings' range (1 to 5).\n\n"
        "Ours: the validation-tuned setting of the rating chapter's grid, early stopping on "
        "validation RMSE, then a fresh model refitted on the 80 % for the chosen epochs. "
        "References: their library's defaults (seeded), and the grid point with the lowest "
        f"validation RMSE (trained on the 72 %), refitted; grids: {grids}. Selection s is the "
        "validation search (the grid's fits and validation predictions; ours: the "
        "early-stopping run's epochs), fit s the final fit (the references': the library's "
        "`fit` on its training set, built before; ours: the rest of `run_rating`, i.e. the "
        "refit, the checkpoints and the test pass). Memory is the fitting process's resident "
        "set, each row in a fresh process with its library imported and the data loaded "
        "(Linux VmRSS before the final fit; VmHWM, reset then, during it; ours: during all of "
        "`run_rating`, torch loaded)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed")
    parser.add_argument(
        "--mf-hyper",
        type=json.loads,
        default={"dim": 64, "reg": 0.1, "init_std": 0.01},
        help="our MF's keyword arguments (JSON)",
    )
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reference-python", type=Path, default=REFERENCE_PYTHON)
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--worker", choices=MODELS, help="(internal) measure one row")
    parser.add_argument("--setting", choices=("defaults", "tuned"), default="defaults")
    parser.add_argument("--data", type=Path, help="(internal) the exported split")
    args = parser.parse_args()

    if args.worker == "mmrec-mf":
        print(json.dumps(ours_worker(args.data, args.threads)))
        return
    if args.worker:
        print(json.dumps(reference_worker(args.worker, args.setting, args.data)))
        return
    if not args.reference_python.exists():
        sys.exit(f"{args.reference_python} is missing; from the repository root: {INSTALL}")
    started, loads = time.perf_counter(), [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as folder:
        sizes = export_split(args, Path(folder))
        rows = [run_worker(sys.executable, "mmrec-mf", "tuned", Path(folder), args.threads)]
        for name in list(MODELS)[1:]:
            for setting in ("defaults", "tuned"):
                python = args.reference_python
                rows.append(run_worker(python, name, setting, Path(folder), args.threads))
                loads.append(os.getloadavg()[0])
    seconds = time.perf_counter() - started
    result = table(rows)
    print(markdown_table(result))
    if args.write_readme:
        body = _description(rows, sizes, args, seconds, loads)
        write_section(SECTION, f"{body}\n\n{markdown_table(result)}\n")


if __name__ == "__main__":
    main()
