"""Our SASRec beside RecBole's SASRec (the reference) on the same ML-100K leave-one-out split.

RecBole trains as its users run it (atomic ``.inter`` file, ``Config``, ``create_dataset``,
``data_preparation``, ``Trainer.fit``): every training prefix is a sample, cross-entropy
over all items, validation full-ranking NDCG@10 each epoch, the best epoch's weights kept.
The ``.inter`` file holds our split's sequences with timestamps 0, 1, 2, ... in our order,
so RecBole's own leave-one-out split (``LS: valid_and_test``, time order) reproduces ours
exactly; that is asserted for every user (train sequence, validation and test item and the
50-item histories). Both models are then scored by the same code,
:func:`mmrec_lib.experiments.sequential.rank_held_out` (ours inside
:func:`~mmrec_lib.experiments.sequential.run_sequential`, which trains it from a run
config), on our stored candidates (test item + the split's 100 negatives; pessimistic ties)
and by full ranking (items seen in train + val excluded); RecBole's model sits behind an
adapter that maps our item indices to its ids.

Install (a venv of its own; never into .venv), from the repository root:

    python3 -m venv .venv-reference
    .venv-reference/bin/pip install torch==2.14.1
    .venv-reference/bin/pip install -r benchmarks/requirements-reference.txt
    .venv-reference/bin/pip install -e . --no-deps

Run (about 15 minutes on 2 idle CPU cores, 25 when another job shares them; RecBole's epochs
take most of it):

    MMREC_DATA_DIR=/work/shared/data .venv-reference/bin/python benchmarks/reference_sasrec.py \\
        --epochs 10 --long-epochs 80 --threads 2 --device cpu --write-readme
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch
from fresh import fresh_checkpoints
from readme import write_section

from mmrec_lib.data import dataset_spec
from mmrec_lib.data.splits import PADDING_ITEM, SequenceSplit
from mmrec_lib.device import resolve_device
from mmrec_lib.experiments.sequential import (
    PROTOCOLS,
    dataset_and_split,
    evaluate,
    run_sequential,
    sequential_config,
)
from mmrec_lib.metrics.ranking import ndcg_at_k, ranks_from_scores
from mmrec_lib.models.sequential.training_data import WINDOWS, next_item_targets

LOSSES = ("bce", "ce")
"""Our SASRec's losses compared with RecBole's (:mod:`mmrec_lib.models.sequential.losses`)."""

SECTION = "Reference SASRec (RecBole) (`reference_sasrec.py`)"
DATASET_NAME = "mmrec_split"
OUR_WINDOWS = {
    "all": "cuts each training sequence into windows of {length} items that overlap by one, "
    "with a target at every position, so every training transition is a target once per epoch",
    "last": "trains on one window per user, its last {length} training items, with a target at "
    "every position (items before them in longer histories are never trained on)",
}
MAX_LEN, HIDDEN, LAYERS, HEADS, DROPOUT, LR, BATCH = 50, 50, 2, 1, 0.2, 1e-3, 128


def write_inter_file(split: SequenceSplit, directory: Path) -> Path:
    """RecBole atomic file of every user's train + val + test items, timestamps 0, 1, 2, ...

    Tokens are our user and item indices, so RecBole's ids map back to ours by token.
    """
    held_out = np.column_stack([split.val_item, split.test_item]).ravel()
    items = np.insert(split.train_items, np.repeat(split.train_offsets[1:], 2), held_out)
    lengths = split.train_lengths + 2
    position = np.arange(len(items)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    users = np.repeat(np.arange(split.n_users), lengths)
    frame = pd.DataFrame(
        {"user_id:token": users, "item_id:token": items, "timestamp:float": position}
    )
    path = directory / DATASET_NAME / f"{DATASET_NAME}.inter"
    path.parent.mkdir(parents=True)
    frame.to_csv(path, sep="\t", index=False)
    return path


def recbole_config(directory: Path, epochs: int, device: torch.device):
    """RecBole's SASRec with our hyperparameters; RecBole's defaults for everything else."""
    from recbole.config import Config

    with mock.patch.object(sys, "argv", sys.argv[:1]):  # RecBole would read --key=value too
        return Config(
            model="SASRec",
            dataset=DATASET_NAME,
            config_dict={
                "data_path": str(directory),
                "checkpoint_dir": str(directory / "saved"),
                "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
                "eval_args": {
                    "split": {"LS": "valid_and_test"},
                    "order": "TO",
                    "group_by": "user",
                    "mode": "full",
                },
                "MAX_ITEM_LIST_LENGTH": MAX_LEN,
                "hidden_size": HIDDEN,
                "inner_size": HIDDEN,
                "n_layers": LAYERS,
                "n_heads": HEADS,
                "hidden_dropout_prob": DROPOUT,
                "attn_dropout_prob": DROPOUT,
                "hidden_act": "relu",
                "layer_norm_eps": 1e-8,
                "loss_type": "CE",
                "train_neg_sample_args": None,
                "learning_rate": LR,
                "train_batch_size": BATCH,
                "epochs": epochs,
                "stopping_step": epochs,  # no early stop: a fixed budget, best epoch kept
                "eval_step": 1,
                "valid_metric": "NDCG@10",
                "metrics": ["Hit", "NDCG"],
                "topk": [10],
                "use_gpu": device.type == "cuda",
                "seed": 0,
                "reproducibility": True,
                "show_progress": False,
                "state": "WARNING",
            },
        )


def our_indices(dataset, field: str) -> np.ndarray:
    """(RecBole ids,) our index of each RecBole id (its token); RecBole's [PAD] -> 0."""
    tokens = dataset.field2id_token[field]
    return np.array([0 if token == "[PAD]" else int(token) for token in tokens], dtype=np.int64)


def check_same_split(split: SequenceSplit, train_data, valid_data, test_data) -> None:
    """Assert that RecBole's train, valid and test samples are our split, user by user."""
    dataset = train_data._dataset
    user_of, item_of = our_indices(dataset, "user_id"), our_indices(dataset, "item_id")
    assert len(item_of) == split.n_items + 1, "RecBole has another number of items"
    train = dataset.inter_feat
    users = user_of[train["user_id"].numpy()]
    first = np.r_[True, users[1:] != users[:-1]]
    assert len(np.unique(users[first])) == first.sum(), "training samples not grouped by user"
    assert (train["item_length"].numpy()[first] == 1).all(), "a user's first sample is not 1 item"
    # a user's training sequence = the first sample's one history item, then every target
    sequence_users = np.r_[users[first], users]
    sequence_items = np.r_[train["item_id_list"].numpy()[first, 0], train["item_id"].numpy()]
    positions = np.r_[np.full(first.sum(), -1), np.arange(len(users))]
    rebuilt = item_of[sequence_items[np.lexsort((positions, sequence_users))]]
    assert np.array_equal(rebuilt, split.train_items), "training sequences differ"
    for data, include_val, target in (
        (valid_data, False, split.val_item),
        (test_data, True, split.test_item),
    ):
        feat = data._dataset.inter_feat
        ours = user_of[feat["user_id"].numpy()]
        assert np.array_equal(np.sort(ours), np.arange(split.n_users)), "a user is missing"
        assert np.array_equal(item_of[feat["item_id"].numpy()], target[ours]), "held-out items"
        histories = item_of[left_padded(feat["item_id_list"].numpy(), feat["item_length"].numpy())]
        assert np.array_equal(histories, split.padded_histories(MAX_LEN, include_val)[ours]), (
            "histories differ"
        )


def left_padded(items: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """RecBole's right-padded item lists (padding id 0) moved to the right edge."""
    width = items.shape[1]
    column = np.arange(width)[None, :] - (width - lengths)[:, None]
    gathered = np.take_along_axis(items, np.clip(column, 0, width - 1), axis=1)
    return np.where(column >= 0, gathered, 0)


class RecBoleScorer(torch.nn.Module):
    """RecBole's trained SASRec behind our ``score`` / ``score_all`` contract (our indices)."""

    def __init__(self, model, item_of: np.ndarray) -> None:
        super().__init__()
        self.model = model
        to_recbole = np.empty_like(item_of)
        to_recbole[item_of] = np.arange(len(item_of))  # our padding 0 -> RecBole's [PAD] 0
        self.register_buffer("to_recbole", torch.as_tensor(to_recbole))

    def _sequence_output(self, histories: torch.Tensor) -> torch.Tensor:
        """(n, d) RecBole's ``forward`` on each history, right-padded as RecBole wants."""
        lengths = (histories != PADDING_ITEM).sum(1)
        width = histories.shape[1]
        column = torch.arange(width, device=histories.device)[None, :] + (width - lengths)[:, None]
        shifted = histories.gather(1, column.clamp(max=width - 1))
        shifted = torch.where(column < width, shifted, PADDING_ITEM)
        return self.model.forward(self.to_recbole[shifted], lengths)

    def score(self, histories: torch.Tensor, candidates: torch.Tensor, users=None):
        """RecBole's ``predict`` for every candidate: <sequence output, item embedding>."""
        embedded = self.model.item_embedding(self.to_recbole[candidates])
        return (embedded @ self._sequence_output(histories).unsqueeze(-1)).squeeze(-1)

    def score_all(self, histories: torch.Tensor, users=None) -> torch.Tensor:
        """RecBole's ``full_sort_predict``, its columns put in our item order 0..n_items."""
        items = self.model.item_embedding.weight[self.to_recbole]
        return self._sequence_output(histories) @ items.T


def unmasked_full_ndcg(model, split: SequenceSplit, device: torch.device) -> float:
    """Test NDCG@10 over every item, seen ones included: how RecBole's evaluator counts it
    for sequential models (it masks only padding), to check the adapter against RecBole."""
    histories = torch.as_tensor(split.padded_histories(MAX_LEN, include_val=True), device=device)
    with torch.no_grad():
        scores = model.to(device).eval().score_all(histories)
    padding = np.zeros(tuple(scores.shape), dtype=bool)
    padding[:, PADDING_ITEM] = True
    return float(ndcg_at_k(ranks_from_scores(scores, split.test_item, padding), 10).mean())


def train_recbole(split: SequenceSplit, epochs: int, device: torch.device) -> dict:
    """Train RecBole's SASRec on the split; the best validation epoch's model and timings."""
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec as RecBoleSASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    # importing recbole.model.sequential_recommender runs SINE's module-level
    # torch.autograd.set_detect_anomaly(True), a debugging mode that slows every backward
    # pass (ours too, in this process) several times over: switch it back off
    torch.autograd.set_detect_anomaly(False)
    warnings.filterwarnings("ignore", category=FutureWarning, module="recbole")
    # RecBole writes log_tensorboard/ into the working directory: keep it in the temp folder
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        directory = Path(folder)
        write_inter_file(split, directory)
        config = recbole_config(directory, epochs, device)
        init_seed(config["seed"], config["reproducibility"])
        train_data, valid_data, test_data = data_preparation(config, create_dataset(config))
        check_same_split(split, train_data, valid_data, test_data)
        init_seed(config["seed"], config["reproducibility"])
        model = RecBoleSASRec(config, train_data._dataset).to(config["device"])
        trainer = Trainer(config, model)
        ends, scores = [time.perf_counter()], []

        def record(_epoch: int, valid_score: float) -> None:
            ends.append(time.perf_counter())
            scores.append(valid_score)

        trainer.fit(train_data, valid_data, callback_fn=record)
        train_seconds = time.perf_counter() - ends[0]
        # RecBole's own evaluate(load_best_model=True) calls torch.load without
        # weights_only=False, which torch >= 2.6 refuses for its checkpoint (a pickled Config)
        best = torch.load(trainer.saved_model_file, map_location=device, weights_only=False)
        model.load_state_dict(best["state_dict"])
        own_test = trainer.evaluate(test_data, load_best_model=False)
        scorer = RecBoleScorer(model, our_indices(train_data._dataset, "item_id"))
        own_test["ours_unmasked_ndcg@10"] = unmasked_full_ndcg(scorer, split, device)
    return {
        "model": scorer,
        "samples": len(train_data._dataset),
        "epoch_seconds": np.diff(ends),
        "train_seconds": train_seconds,
        "valid_ndcg": scores,
        "best_epoch": best["epoch"] + 1,
        "own_test": dict(own_test),
    }


def evaluate_timed(model, split: SequenceSplit, device: torch.device) -> dict:
    """Test metrics and seconds under both protocols, by run_sequential's own evaluation."""
    out = {}
    for protocol in PROTOCOLS:
        started = time.perf_counter()
        metrics = evaluate(model, split, protocol, "test", MAX_LEN, device=str(device))
        out[f"eval_{protocol}"] = time.perf_counter() - started
        out[protocol] = {name: float(values.mean()) for name, values in metrics.items()}
    return out


def table_row(
    label: str,
    loss: str,
    samples: int,
    epoch_seconds: np.ndarray,
    best_epoch: int,
    train_seconds: float,
    tested: dict,
) -> dict:
    """One row of the comparison table; ``tested`` as :func:`evaluate_timed` returns it."""
    return {
        "model": label,
        "loss": loss,
        "samples / epoch": samples,
        "epochs": len(epoch_seconds),
        "best epoch": best_epoch,
        "s / epoch": float(np.median(epoch_seconds)),
        "train s": train_seconds,
        "eval s sampled": tested["eval_sampled"],
        "eval s full": tested["eval_full"],
        "HR@10 sampled": tested["sampled"]["HR@10"],
        "NDCG@10 sampled": tested["sampled"]["NDCG@10"],
        "NDCG@10 full": tested["full"]["NDCG@10"],
    }


def our_config(loss: str, epochs: int, windows: str, device: torch.device) -> dict:
    """Our SASRec's run config: ML-100K, split seed 0 with 100 negatives, a fixed budget
    (patience = epochs: no early stop), training seed 0."""
    return sequential_config(
        "sasrec",
        dataset=dataset_spec("ml-100k"),
        seed=0,
        split_seed=0,
        n_negatives=100,
        max_len=MAX_LEN,
        d=HIDDEN,
        batch_size=BATCH,
        train={"epochs": epochs, "lr": LR, "patience": epochs, "device": str(device)},
        hyperparameters={
            "loss": loss,
            "windows": windows,
            "n_blocks": LAYERS,
            "n_heads": HEADS,
            "dropout": DROPOUT,
        },
    )


def run_ours(
    split: SequenceSplit, loss: str, epochs: int, windows: str, device: torch.device
) -> dict:
    """Our SASRec through run_sequential: a fixed budget, the best validation epoch kept."""
    config = our_config(loss, epochs, windows, device)
    fresh_checkpoints(config)  # train every epoch (and time it), never resume
    record = run_sequential(config)
    metrics = record.metrics
    return table_row(
        f"SASRec (mmrec, windows={windows})",
        {"bce": "BCE, 1 negative / position", "ce": "CE, all items"}[loss],
        training_windows_with_target(split, windows),
        record.arrays["history/seconds"],
        int(metrics["best_epoch"]),
        metrics["seconds_train"],
        {
            **{f"eval_{protocol}": metrics[f"seconds_eval_{protocol}"] for protocol in PROTOCOLS},
            **{
                protocol: {
                    name.split("/", 1)[1]: value
                    for name, value in metrics.items()
                    if name.startswith(f"{protocol}/")
                }
                for protocol in PROTOCOLS
            },
        },
    )


def training_windows_with_target(split: SequenceSplit, windows: str) -> int:
    """How many training sequences our SASRec's epoch goes through."""
    targets = next_item_targets(split, MAX_LEN, windows)[1]
    return int((targets != PADDING_ITEM).any(axis=1).sum())


def run_recbole(split: SequenceSplit, epochs: int, device: torch.device) -> tuple[dict, dict]:
    """RecBole's row of the table, and what train_recbole says besides (curve, own test)."""
    import recbole

    trained = train_recbole(split, epochs, device)
    row = table_row(
        f"SASRec (RecBole {recbole.__version__})",
        "CE, all items (prefix samples)",
        trained["samples"],
        trained["epoch_seconds"],
        trained["best_epoch"],
        trained["train_seconds"],
        evaluate_timed(trained["model"], split, device),
    )
    return row, trained


def markdown(table: pd.DataFrame) -> str:
    """Seconds with 2 decimals, metrics with 4, counts with thousands separators."""
    formats = [".4f" if "@" in name else ".2f" for name in table.columns]
    return table.to_markdown(index=False, floatfmt=formats, intfmt=",")


def conditions(
    args: argparse.Namespace,
    split: SequenceSplit,
    device: torch.device,
    samples: int,
    loads: tuple[float, float],
) -> str:
    """The paragraphs saying how the table was measured."""
    import recbole

    command = " ".join(["python", "benchmarks/reference_sasrec.py", *sys.argv[1:]])
    run = (
        f"`{command}` on {platform.processor() or platform.machine()} ({os.cpu_count()} "
        f"cores, shared), device {device}, {args.threads} torch thread(s), torch "
        f"{torch.__version__}, RecBole {recbole.__version__}, numpy {np.__version__} (in "
        ".venv-reference, see `requirements-reference.txt`: RecBole 1.2.1 fails on numpy 2), "
        f"{time.strftime('%Y-%m-%d')}. Load average (1 min) {loads[0]:.1f} to {loads[1]:.1f} "
        "during the run, so the seconds are indicative."
    )
    also = f" (ours also {args.long_epochs}, its epochs being cheap)" if args.long_epochs else ""
    same = (
        "The same for both: ML-100K, `leave_one_out(..., n_negatives=100, seed=0)` "
        f"({split.n_users} users, {split.n_items} items; RecBole reads the same sequences from "
        "an atomic file, and its own leave-one-out split is asserted equal to ours, user by "
        f"user); hidden {HIDDEN}, {LAYERS} blocks, {HEADS} head, dropout {DROPOUT} (attention "
        f"too), a {HIDDEN}-wide ReLU FFN, max_len {MAX_LEN}, Adam lr {LR}, batch {BATCH}; a "
        f"fixed budget of {args.epochs} epochs{also}, no early stopping, the best validation "
        "epoch's weights kept (ours by sampled NDCG@10, RecBole by its full-ranking "
        "NDCG@10); the test pass of `mmrec_lib.experiments.sequential.rank_held_out` (ours "
        "inside `run_sequential`, RecBole's through `evaluate`; sampled: the "
        "test item + the 100 stored negatives; full: every item not seen in train + val; "
        "pessimistic ties). s / epoch is the median over epochs, validation pass included."
    )
    differs = (
        "Each keeps its own design otherwise. Training data: RecBole makes a sample of every "
        f"prefix of every training sequence (one target each, {samples:,} per epoch); ours "
        f"{OUR_WINDOWS[args.windows].format(length=MAX_LEN + 1)}. Architecture: "
        "RecBole's blocks are post-LayerNorm, after a LayerNorm on the input, without the "
        "sqrt(d) scaling of item embeddings, initialised N(0, 0.02); ours are pre-LayerNorm as "
        "in the SASRec paper, Xavier-initialised. Importing RecBole's sequential models turns "
        "torch's anomaly detection on for the whole process (SINE's module does it); the "
        "script turns it off again, for both models."
    )
    return "\n\n".join([run, same, differs])


def summary(table: pd.DataFrame, recbole_run: dict) -> str:
    """Ours against RecBole in words; RecBole's validation curve and its own test evaluation."""
    reference = table.iloc[0]
    parts = [
        f"{row['loss']}, {row['epochs']} epochs: sampled NDCG@10 "
        f"{row['NDCG@10 sampled'] - reference['NDCG@10 sampled']:+.4f}, "
        f"{reference['s / epoch'] / row['s / epoch']:.0f}x less time per epoch, "
        f"{reference['train s'] / row['train s']:.1f}x less training time"
        for _, row in table.iloc[1:].iterrows()
    ]
    curve = ", ".join(f"{score:.3f}" for score in recbole_run["valid_ndcg"])
    own = recbole_run["own_test"]
    return (
        "Ours against RecBole: " + "; ".join(parts) + f". RecBole's validation NDCG@10 (full "
        f"ranking) by epoch: {curve}. RecBole's own evaluator on its trained model (full "
        f"ranking, test; for sequential models it leaves seen items among the candidates): "
        f"NDCG@10 {own['ndcg@10']:.4f}; the same count from our scores of its model: "
        f"{own['ours_unmasked_ndcg@10']:.4f} (with seen items excluded, as in the table: "
        f"{reference['NDCG@10 full']:.4f})."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="fixed budget for every model")
    parser.add_argument(
        "--long-epochs", type=int, default=80, help="ours again with this budget (0: skip)"
    )
    parser.add_argument(
        "--windows", default="all", choices=WINDOWS, help="our SASRec's training windows"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto (cuda if present)")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    # the split every config of ours trains on (the same lru-cached object), RecBole's too
    _, split = dataset_and_split(our_config(LOSSES[0], args.epochs, args.windows, device))
    loads = [os.getloadavg()[0]]
    row, recbole_run = run_recbole(split, args.epochs, device)
    rows = [row]
    loads.append(os.getloadavg()[0])
    print(row, flush=True)
    for epochs in (args.epochs, args.long_epochs) if args.long_epochs else (args.epochs,):
        for loss in LOSSES:
            rows.append(run_ours(split, loss, epochs, args.windows, device))
            loads.append(os.getloadavg()[0])
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    body = "\n\n".join(
        [
            conditions(args, split, device, rows[0]["samples / epoch"], (min(loads), max(loads))),
            markdown(table),
            summary(table, recbole_run),
        ]
    )
    print(body)
    if args.write_readme:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
