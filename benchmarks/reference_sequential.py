"""Our SASRec and BERT4Rec beside RecBole's (the references) on the same ML-100K split.

RecBole trains as its users run it (atomic ``.inter`` file, ``Config``, ``create_dataset``,
``data_preparation``, ``Trainer.fit``): every training prefix is a sample, cross-entropy
over all items (BERT4Rec: at its masked positions), validation full-ranking NDCG@10 each
epoch, the best epoch's weights kept. The ``.inter`` file holds our leave-one-out split's
sequences with timestamps 0, 1, 2, ... in our order, so RecBole's own leave-one-out split
(``LS: valid_and_test``, time order) reproduces ours exactly; that is asserted for every user
(train sequence, validation and test item and the 50-item histories). Both libraries' models
are then scored by the same code, :func:`mmrec_lib.experiments.sequential.rank_held_out` (ours
inside :func:`~mmrec_lib.experiments.sequential.run_sequential`, which trains it from a run
config), on our stored candidates (test item + the split's 100 negatives; pessimistic ties)
and by full ranking (items seen in train + val excluded); RecBole's model sits behind an
adapter that maps our item indices to its ids and calls its ``full_sort_predict``.

Every row is measured in a fresh process (this script's ``--worker`` mode, in the same
environment), so its peak memory is its own. ``--json`` writes the rows for
``benchmarks/references.py``, which runs this script beside the rating references.

Install (a venv of its own; never into .venv), from the repository root:

    python3 -m venv .venv-reference
    .venv-reference/bin/pip install torch==2.14.1
    .venv-reference/bin/pip install -r benchmarks/requirements-reference.txt
    .venv-reference/bin/pip install -e . --no-deps

Run (about 35 minutes on 2 idle CPU cores, an hour or more when other jobs share them;
RecBole's epochs take most of it):

    MMREC_DATA_DIR=/work/shared/data .venv-reference/bin/python \\
        benchmarks/reference_sequential.py --epochs 10 --long-epochs 80 --threads 2 \\
        --device cpu --write-readme
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
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
from memory import measured
from readme import write_section

from mmrec_lib.data import dataset_spec
from mmrec_lib.data.splits import PADDING_ITEM, SequenceSplit
from mmrec_lib.device import resolve_device
from mmrec_lib.experiments.sequential import (
    PROTOCOLS,
    build_model,
    dataset_and_split,
    evaluate,
    run_sequential,
    sequential_config,
)
from mmrec_lib.metrics.ranking import ndcg_at_k, ranks_from_scores
from mmrec_lib.models.sequential.training_data import WINDOWS

SECTION = "Reference sequential models (RecBole) (`reference_sequential.py`)"
DATASET_NAME = "mmrec_split"
MODELS = {"sasrec": "SASRec", "bert4rec": "BERT4Rec"}
"""Our model names and their labels, which are also RecBole's model names."""
OUR_LOSSES = {"sasrec": ("bce", "ce", "sampled-softmax"), "bert4rec": ("ce",)}
"""Our losses beside RecBole's CE (:mod:`mmrec_lib.models.sequential.losses`): SASRec's
paper (BCE), RecBole's (CE) and our library's default (a softmax over 128 sampled items)."""
LOSS_LABELS = {
    "bce": "BCE, 1 negative / position",
    "ce": "CE, all items",
    "sampled-softmax": "softmax, 128 sampled negatives",
}
MAX_LEN, HIDDEN, LAYERS, DROPOUT, LR, BATCH = 50, 50, 2, 0.2, 1e-3, 128
HEADS = {"sasrec": 1, "bert4rec": 2}
MASK_PROB, LAST_MASK_PROB = 0.2, 0.5
"""BERT4Rec's share of masked items, and of training sequences masked at their last item
only: RecBole's defaults (``mask_ratio``, ``ft_ratio``), given to ours too."""
RECBOLE_SETTINGS = {  # FFNs as ours: SASRec's d wide with ReLU, BERT4Rec's 4d with GELU
    "sasrec": {"inner_size": HIDDEN, "hidden_act": "relu", "layer_norm_eps": 1e-8},
    "bert4rec": {
        "inner_size": 4 * HIDDEN,
        "hidden_act": "gelu",
        "mask_ratio": MASK_PROB,
        "ft_ratio": LAST_MASK_PROB,
    },
}
OUR_SETTINGS = {
    "sasrec": {},
    "bert4rec": {"mask_prob": MASK_PROB, "last_mask_prob": LAST_MASK_PROB},
}
SHARED_TEXT = {
    "sasrec": f"SASRec: {HEADS['sasrec']} head, a {HIDDEN}-wide ReLU FFN",
    "bert4rec": (
        f"BERT4Rec: {HEADS['bert4rec']} heads, a {4 * HIDDEN}-wide GELU FFN, {MASK_PROB:.0%} "
        f"of the items masked, {LAST_MASK_PROB:.0%} of the training sequences masked at their "
        "last item only (RecBole: `ft_ratio`, drawn per batch; ours: `last_mask_prob`, per "
        "sequence)"
    ),
}
OUR_DATA = {
    ("sasrec", "all"): f"cuts each training sequence into windows of {MAX_LEN + 1} items that "
    "overlap by one, with a target at every position, so every training transition is a "
    "target once per epoch",
    ("sasrec", "last"): f"trains on one window per user, its last {MAX_LEN + 1} training items, "
    "with a target at every position (items before them in longer histories are never "
    "trained on)",
    ("bert4rec", "all"): f"cuts each training sequence into windows of {MAX_LEN} items, end to "
    "end, masked afresh every epoch",
    ("bert4rec", "last"): f"trains on one window per user, its last {MAX_LEN} training items, "
    "masked afresh every epoch",
}
DESIGN_TEXT = {
    "sasrec": "RecBole's blocks are post-LayerNorm, after a LayerNorm on the input, without "
    "the sqrt(d) scaling of item embeddings, initialised N(0, 0.02); ours are pre-LayerNorm as "
    "in the SASRec paper, Xavier-initialised.",
    "bert4rec": "RecBole masks each item of a sample with probability "
    f"{MASK_PROB} and learns from at most the last {int(MASK_PROB * MAX_LEN)} masked ones (a "
    "sample may have none), ours exactly max(1, round(mask_prob x length)) items of a window; "
    "both are post-LayerNorm, RecBole's embeddings N(0, 0.02) without the sqrt(d) scaling, "
    "ours Xavier-initialised and scaled; its output layer is Linear, GELU, LayerNorm, ours "
    f"Linear, GELU. Both predict at a [MASK] after the last {MAX_LEN - 1} history items "
    "(RecBole also drops a shorter history's first item).",
}


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


def recbole_config(model: str, directory: Path, epochs: int, device: torch.device):
    """RecBole's model with our hyperparameters; RecBole's defaults for everything else."""
    from recbole.config import Config

    with mock.patch.object(sys, "argv", sys.argv[:1]):  # RecBole would read --key=value too
        return Config(
            model=MODELS[model],
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
                "n_layers": LAYERS,
                "n_heads": HEADS[model],
                "hidden_dropout_prob": DROPOUT,
                "attn_dropout_prob": DROPOUT,
                **RECBOLE_SETTINGS[model],
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
    """A trained RecBole model behind our ``score`` / ``score_all`` contract (our indices)."""

    def __init__(self, model, item_of: np.ndarray) -> None:
        super().__init__()
        self.model = model
        to_recbole = np.empty_like(item_of)
        to_recbole[item_of] = np.arange(len(item_of))  # our padding 0 -> RecBole's [PAD] 0
        self.register_buffer("to_recbole", torch.as_tensor(to_recbole))

    def score_all(self, histories: torch.Tensor, users=None) -> torch.Tensor:
        """RecBole's ``full_sort_predict`` of each history, right-padded as RecBole wants;
        its columns put in our item order 0..n_items."""
        from recbole.data.interaction import Interaction

        lengths = (histories != PADDING_ITEM).sum(1)
        width = histories.shape[1]
        column = torch.arange(width, device=histories.device)[None, :] + (width - lengths)[:, None]
        shifted = histories.gather(1, column.clamp(max=width - 1))
        shifted = torch.where(column < width, shifted, PADDING_ITEM)
        inputs = {self.model.ITEM_SEQ: self.to_recbole[shifted], self.model.ITEM_SEQ_LEN: lengths}
        return self.model.full_sort_predict(Interaction(inputs))[:, self.to_recbole]

    def score(self, histories: torch.Tensor, candidates: torch.Tensor, users=None):
        """The candidates' scores of :meth:`score_all` (RecBole's ``predict`` computes the
        same, one candidate per call)."""
        return self.score_all(histories).gather(1, candidates)


def unmasked_full_ndcg(model, split: SequenceSplit, device: torch.device) -> float:
    """Test NDCG@10 over every item, seen ones included: how RecBole's evaluator counts it
    for sequential models (it masks only padding), to check the adapter against RecBole."""
    histories = torch.as_tensor(split.padded_histories(MAX_LEN, include_val=True), device=device)
    with torch.no_grad():
        scores = model.to(device).eval().score_all(histories)
    padding = np.zeros(tuple(scores.shape), dtype=bool)
    padding[:, PADDING_ITEM] = True
    return float(ndcg_at_k(ranks_from_scores(scores, split.test_item, padding), 10).mean())


def train_recbole(split: SequenceSplit, model: str, epochs: int, device: torch.device) -> dict:
    """Train RecBole's model on the split; the best validation epoch's model and timings."""
    from recbole.data import create_dataset, data_preparation
    from recbole.model import sequential_recommender
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    # importing recbole.model.sequential_recommender runs SINE's module-level
    # torch.autograd.set_detect_anomaly(True), a debugging mode that slows every backward
    # pass several times over: switch it back off
    torch.autograd.set_detect_anomaly(False)
    warnings.filterwarnings("ignore", category=FutureWarning, module="recbole")
    # RecBole writes log_tensorboard/ into the working directory: keep it in the temp folder
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        directory = Path(folder)
        write_inter_file(split, directory)
        config = recbole_config(model, directory, epochs, device)
        init_seed(config["seed"], config["reproducibility"])
        train_data, valid_data, test_data = data_preparation(config, create_dataset(config))
        check_same_split(split, train_data, valid_data, test_data)
        init_seed(config["seed"], config["reproducibility"])
        network = getattr(sequential_recommender, config["model"])(config, train_data._dataset)
        trainer = Trainer(config, network.to(config["device"]))
        ends, scores = [time.perf_counter()], []

        def record(_epoch: int, valid_score: float) -> None:
            ends.append(time.perf_counter())
            scores.append(valid_score)

        _, cost = measured(lambda: trainer.fit(train_data, valid_data, callback_fn=record))
        # RecBole's own evaluate(load_best_model=True) calls torch.load without
        # weights_only=False, which torch >= 2.6 refuses for its checkpoint (a pickled Config)
        best = torch.load(trainer.saved_model_file, map_location=device, weights_only=False)
        network.load_state_dict(best["state_dict"])
        tested = trainer.evaluate(test_data, load_best_model=False)
        own_test = {name: float(value) for name, value in tested.items()}
        scorer = RecBoleScorer(network, our_indices(train_data._dataset, "item_id"))
        own_test["ours_unmasked_ndcg@10"] = unmasked_full_ndcg(scorer, split, device)
    return {
        "model": scorer,
        "samples": len(train_data._dataset),
        "epoch_seconds": np.diff(ends),
        "best_epoch": best["epoch"] + 1,
        "cost": cost,
        "valid_ndcg": scores,
        "own_test": own_test,
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
    model: str,
    library: str,
    loss: str,
    samples: int,
    epoch_seconds: np.ndarray,
    best_epoch: int,
    train_seconds: float,
    memory: dict,
    tested: dict,
) -> dict:
    """One row of the comparison table; ``memory`` as :func:`memory.measured` returns it,
    ``tested`` as :func:`evaluate_timed` does."""
    return {
        "model": model,
        "library": library,
        "loss": loss,
        "samples / epoch": samples,
        "epochs": len(epoch_seconds),
        "best epoch": best_epoch,
        "s / epoch": float(np.median(epoch_seconds)),
        "s to best": float(np.sum(epoch_seconds[:best_epoch])),
        "train s": train_seconds,
        "eval s sampled": tested["eval_sampled"],
        "eval s full": tested["eval_full"],
        "HR@10 sampled": tested["sampled"]["HR@10"],
        "NDCG@10 sampled": tested["sampled"]["NDCG@10"],
        "NDCG@10 full": tested["full"]["NDCG@10"],
        "RSS before (MiB)": memory["rss_before"],
        "peak RSS (MiB)": memory["peak_rss"],
    }


def our_config(model: str, loss: str, epochs: int, windows: str, device: str) -> dict:
    """Our model's run config: ML-100K, split seed 0 with 100 negatives, a fixed budget
    (patience = epochs: no early stop), training seed 0."""
    return sequential_config(
        model,
        dataset=dataset_spec("ml-100k"),
        seed=0,
        split_seed=0,
        n_negatives=100,
        max_len=MAX_LEN,
        d=HIDDEN,
        batch_size=BATCH,
        train={"epochs": epochs, "lr": LR, "patience": epochs, "device": device},
        hyperparameters={
            "loss": loss,
            "windows": windows,
            "n_blocks": LAYERS,
            "n_heads": HEADS[model],
            "dropout": DROPOUT,
            **OUR_SETTINGS[model],
        },
    )


def our_split() -> SequenceSplit:
    """The split every row trains on (what :func:`our_config` names; RecBole's too)."""
    return dataset_and_split(our_config("sasrec", "ce", 1, "all", "cpu"))[1]


def training_samples(config: dict, split: SequenceSplit) -> int:
    """How many training sequences an epoch of the config's model goes through."""
    batches = build_model(config, split).training_batches(split, np.random.default_rng(0), BATCH)
    return sum(len(batch[0]) for batch in batches)


def ours(model: str, loss: str, epochs: int, windows: str, device: torch.device) -> dict:
    """Our model's row, trained by run_sequential: a fixed budget, the best validation
    epoch kept."""
    config = our_config(model, loss, epochs, windows, str(device))
    samples = training_samples(config, our_split())
    fresh_checkpoints(config)  # train every epoch (and time it), never resume
    record, memory = measured(lambda: run_sequential(config))
    metrics = record.metrics
    tested = {f"eval_{protocol}": metrics[f"seconds_eval_{protocol}"] for protocol in PROTOCOLS}
    for protocol in PROTOCOLS:
        prefix = f"{protocol}/"
        tested[protocol] = {
            name.removeprefix(prefix): value
            for name, value in metrics.items()
            if name.startswith(prefix)
        }
    row = table_row(
        MODELS[model],
        f"mmrec_lib (torch {torch.__version__})",
        LOSS_LABELS[loss],
        samples,
        record.arrays["history/seconds"],
        int(metrics["best_epoch"]),
        metrics["seconds_train"],
        memory,
        tested,
    )
    return {"row": row}


def recbole(model: str, epochs: int, device: torch.device) -> dict:
    """RecBole's row, and what train_recbole says besides (validation curve, own test)."""
    import recbole as library

    split = our_split()
    trained = train_recbole(split, model, epochs, device)
    row = table_row(
        MODELS[model],
        f"RecBole {library.__version__}",
        "CE, all items (prefix samples)",
        trained["samples"],
        trained["epoch_seconds"],
        trained["best_epoch"],
        trained["cost"]["fit_s"],
        trained["cost"],
        evaluate_timed(trained["model"], split, device),
    )
    return {"row": row, "valid_ndcg": trained["valid_ndcg"], "own_test": trained["own_test"]}


def run_worker(args: argparse.Namespace, library: str, model: str, epochs: int, loss: str) -> dict:
    """One row, measured in a fresh process of this script; what it printed (JSON)."""
    command = [sys.executable, __file__, "--worker", library, "--model", model, "--loss", loss]
    command += ["--epochs", str(epochs), "--windows", args.windows]
    command += ["--threads", str(args.threads), "--device", args.device]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(done.stdout.splitlines()[-1])
    print(result["row"], flush=True)
    return result


def markdown(table: pd.DataFrame) -> str:
    """Seconds with 2 decimals, metrics with 4, MiB with none, counts with separators."""
    formats = [".4f" if "@" in c else ".0f" if "MiB" in c else ".2f" for c in table.columns]
    return table.to_markdown(index=False, floatfmt=formats, intfmt=",")


def conditions(
    args: argparse.Namespace, split: SequenceSplit, loads: list[float], recbole_samples: int
) -> str:
    """The paragraphs saying how the table was measured."""
    import recbole as library

    arguments = ["FILE.json" if a == str(args.json) else a for a in sys.argv[1:]]  # no temp path
    command = " ".join(["python", "benchmarks/reference_sequential.py", *arguments])
    run = (
        f"`{command}` on {platform.processor() or platform.machine()} ({os.cpu_count()} "
        f"cores, shared), device {resolve_device(args.device)}, {args.threads} torch "
        f"thread(s), torch {torch.__version__}, RecBole {library.__version__}, numpy "
        f"{np.__version__} (in .venv-reference, see `requirements-reference.txt`: RecBole "
        f"1.2.1 fails on numpy 2), {time.strftime('%Y-%m-%d')}. Load average (1 min) "
        f"{min(loads):.1f} to {max(loads):.1f} during the run, so the seconds are indicative."
    )
    also = f" (ours also {args.long_epochs}, its epochs being cheap)" if args.long_epochs else ""
    same = (
        "The same for both libraries: ML-100K, `leave_one_out(..., n_negatives=100, seed=0)` "
        f"({split.n_users} users, {split.n_items} items; RecBole reads the same sequences from "
        "an atomic file, and its own leave-one-out split is asserted equal to ours, user by "
        f"user); hidden {HIDDEN}, {LAYERS} blocks, dropout {DROPOUT} (attention too), max_len "
        f"{MAX_LEN}, Adam lr {LR}, batch {BATCH}; "
        + "; ".join(SHARED_TEXT[model] for model in args.models)
        + f"; a fixed budget of {args.epochs} epochs{also}, no early stopping, the best "
        "validation epoch's weights kept (ours by sampled NDCG@10, RecBole by its "
        "full-ranking NDCG@10); the test pass of `mmrec_lib.experiments.sequential."
        "rank_held_out` (ours inside `run_sequential`, RecBole's through `evaluate`; sampled: "
        "the test item + the 100 stored negatives; full: every item not seen in train + val; "
        "pessimistic ties). s / epoch is the median over epochs, validation pass included; s "
        "to best the seconds up to the end of the best epoch; train s the whole training. "
        "Memory: every row runs in a fresh process; RSS before is its resident set with the "
        "data, the library and (RecBole) its dataloaders loaded, peak RSS its peak during "
        "training (Linux VmHWM, reset before; ours: during all of `run_sequential`, test "
        "passes included)."
    )
    designs = " ".join(
        f"{MODELS[model]}: ours {OUR_DATA[model, args.windows]}. {DESIGN_TEXT[model]}"
        for model in args.models
    )
    differs = (
        "Each keeps its own design otherwise. Training data: RecBole makes a sample of every "
        f"prefix of every training sequence ({recbole_samples:,} per epoch), for SASRec with "
        f"its next item as the target, for BERT4Rec with items masked in it. {designs} "
        "Importing RecBole's sequential models turns torch's anomaly detection on for the "
        "whole process (SINE's module does it); the script turns it off again."
    )
    return "\n\n".join([run, same, differs])


def summary(table: pd.DataFrame, recbole_runs: dict) -> str:
    """Ours against RecBole in words, by model; RecBole's validation curve and its own test
    evaluation."""
    parts = []
    for model, run in recbole_runs.items():
        rows = table[table["model"] == MODELS[model]]
        reference, ours_rows = rows.iloc[0], rows.iloc[1:]
        against = "; ".join(
            f"{row['loss']}, {row['epochs']} epochs: sampled NDCG@10 "
            f"{row['NDCG@10 sampled'] - reference['NDCG@10 sampled']:+.4f}, "
            f"{reference['s / epoch'] / row['s / epoch']:.0f}x less time per epoch, "
            f"{reference['train s'] / row['train s']:.1f}x less training time"
            for _, row in ours_rows.iterrows()
        )
        curve = ", ".join(f"{score:.3f}" for score in run["valid_ndcg"])
        own = run["own_test"]
        parts.append(
            f"{MODELS[model]}, ours against RecBole: {against}. RecBole's validation NDCG@10 "
            f"(full ranking) by epoch: {curve}. RecBole's own evaluator on its trained model "
            "(full ranking, test; for sequential models it leaves seen items among the "
            f"candidates): NDCG@10 {own['ndcg@10']:.4f}; the same count from our scores of its "
            f"model: {own['ours_unmasked_ndcg@10']:.4f} (with seen items excluded, as in the "
            f"table: {reference['NDCG@10 full']:.4f})."
        )
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--epochs", type=int, default=10, help="fixed budget for every model")
    parser.add_argument(
        "--long-epochs", type=int, default=80, help="ours again with this budget (0: skip)"
    )
    parser.add_argument(
        "--windows", default="all", choices=WINDOWS, help="our models' training windows"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto (cuda if present)")
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--worker", choices=("recbole", "mmrec"), help="(internal) one row")
    parser.add_argument("--model", choices=MODELS, help="(internal) the worker's model")
    parser.add_argument("--loss", choices=LOSS_LABELS, help="(internal) our worker's loss")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.worker:
        device = resolve_device(args.device)
        if args.worker == "recbole":
            result = recbole(args.model, args.epochs, device)
        else:
            result = ours(args.model, args.loss, args.epochs, args.windows, device)
        print(json.dumps(result))
        return
    loads, rows, recbole_runs = [os.getloadavg()[0]], [], {}
    budgets = (args.epochs, args.long_epochs) if args.long_epochs else (args.epochs,)
    for model in args.models:
        recbole_runs[model] = run_worker(args, "recbole", model, args.epochs, "ce")
        rows.append(recbole_runs[model]["row"])
        loads.append(os.getloadavg()[0])
        for epochs in budgets:
            for loss in OUR_LOSSES[model]:
                rows.append(run_worker(args, "mmrec", model, epochs, loss)["row"])
                loads.append(os.getloadavg()[0])
    table = pd.DataFrame(rows)
    samples = rows[0]["samples / epoch"]
    body = "\n\n".join(
        [
            conditions(args, our_split(), loads, samples),
            markdown(table),
            summary(table, recbole_runs),
        ]
    )
    print(body)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1))
    if args.write_readme:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
