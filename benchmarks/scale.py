"""The whole pipeline at ML-20M scale, stage by stage: seconds and peak memory of each.

On the ML-20M-shaped synthetic dataset (:mod:`mmrec_lib.data.synthetic_scale`): generate,
k-core, leave-one-out with 100 stored negatives, item features (text, image, paper B's
XGBoost leaf embeddings, fused), one epoch of SASRec+ and of BERT4Rec+, sampled and
full-ranking evaluation of every user, and one epoch of TSEM with a tag-genome block.

What is not the library's own path, and why:

- Text features are TF-IDF (words and word pairs) reduced by a seeded SVD to 384 columns,
  MiniLM's width: at the ~40 plots a second MiniLM managed on a quiet 2-core CPU, 26,744
  plots take over 11 minutes, more on a shared machine (``--text-encoder minilm`` runs it).
- The generated items have no posters, so the image block is the library's own fallback:
  zero rows with mask False (EfficientNet-Lite0, at about 8 posters a second, would take an
  hour).
- XGBoost is fitted on a seeded sample of ``--booster-rows`` training interactions, as the
  library does by default (``fit_rating_booster(max_rows=...)``, 1M): it holds one dense
  float32 row of user and item features per rating, about 19.7M x 120 x 4 bytes = 9.5 GB
  (twice, while they are gathered) for all of ML-20M's training interactions.
- TSEM is built directly, with a fourth item block (the genome) beside paper A's three, and
  trained with the library's ``fit``; ``run_rating`` knows only the three.
- With ``--max-train-batches`` an epoch stops after that many batches and its full length
  is extrapolated from the seconds per batch.

    .venv/bin/python benchmarks/scale.py --scale 0.02    # 2.5 minutes on a busy 2-core CPU
    nice -n 10 .venv/bin/python benchmarks/scale.py --max-train-batches 200 --write-readme  # 20 min

Each stage's peak is the process's resident memory at its highest during the stage
(Linux ``VmHWM``, reset as the stage starts), so it includes whatever earlier stages still
hold. Feature caches go to a temporary folder unless ``MMREC_CACHE_DIR`` is set.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shlex
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from memory import memory_mib, reset_peak_memory
from readme import markdown_table, write_section

SECTION = "Scale (ML-20M-shaped)"
TEXT_ENCODERS = ("tfidf", "minilm")
FULL_RANKING_TARGET_S = 300
MEMORY_TARGET_MIB = 12 * 1024


@dataclass
class ScaleOptions:
    """Settings of the pipeline's stages (the dataset's sizes are a ``ScaleConfig``)."""

    seed: int = 0
    d: int = 50
    max_len: int = 50
    n_negatives: int = 100
    batch_size: int = 128
    max_train_batches: int | None = None
    eval_batch_size: int = 1024
    booster_rows: int = 1_000_000
    booster: dict = field(default_factory=dict)
    """Options of ``xgboost_item_embeddings`` (``n_estimators``, ``max_depths``, ``n_jobs``)."""
    tabular_dim: int = 64
    text_encoder: str = "tfidf"
    text_dim: int = 384
    tsem_batch_size: int = 1024
    tsem_dim: int = 64
    threads: int | None = 1
    """torch, BLAS and OpenMP threads (None: as they are). One is fastest on a busy 2-core
    machine, where a second thread mostly waits for a core."""
    device: str = "cpu"
    """Where the models train and rank ("cpu", "cuda", "auto"); features stay on the CPU."""
    amp: bool = False
    """bf16 autocast in training (``TrainConfig.amp``)."""
    compile: bool = False
    """``torch.compile`` of each training step (``TrainConfig.compile``)."""

    def train_config(self):
        """The one-epoch ``TrainConfig`` of every model's training stage."""
        from mmrec_lib.models.training import TrainConfig

        return TrainConfig(
            epochs=1,
            seed=self.seed,
            progress=False,
            device=self.device,
            threads=self.threads,
            amp=self.amp,
            compile=self.compile,
        )


class Stages:
    """Runs named stages, recording seconds and memory (MiB) of each."""

    def __init__(self, progress: bool = True) -> None:
        self.rows: list[dict] = []
        self.progress = progress

    def run(self, name: str, size: str, work, note=None):
        """``work()``'s result; ``note(result)`` (if given) fills the row's note. Where CUDA
        is in use, the row also holds the stage's peak of allocated GPU memory."""
        import torch

        def cuda_in_use() -> bool:  # asked again after the stage: it may start CUDA
            return torch.cuda.is_available() and torch.cuda.is_initialized()

        if cuda_in_use():
            torch.cuda.reset_peak_memory_stats()
        before = memory_mib("VmRSS")
        reset_peak_memory()
        started = time.perf_counter()
        result = work()
        if cuda_in_use():
            torch.cuda.synchronize()  # the stage's kernels count in its seconds
        seconds = time.perf_counter() - started
        row = {
            "stage": name,
            "size": size,
            "seconds": seconds,
            "RSS before (MiB)": before,
            "peak RSS (MiB)": memory_mib("VmHWM"),
            "note": note(result) if note else "",
        }
        if cuda_in_use():
            row["peak GPU (MiB)"] = torch.cuda.max_memory_allocated() / 2**20
        self.rows.append(row)
        if self.progress:
            print(f"{name}: {seconds:.1f} s, peak {row['peak RSS (MiB)']:,.0f} MiB {row['note']}")
        return result

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows).set_index("stage")


def run_pipeline(config, options: ScaleOptions, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Every stage on the dataset ``config`` describes: the table of stages, and the
    results (metrics per model, the split's sizes)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    try:
        with threadpool_limits(options.threads):  # numpy's BLAS and OpenMP (None: as they are)
            torch.set_num_threads(options.threads or threads)
            return _stages(config, options, progress)
    finally:
        torch.set_num_threads(threads)


def _stages(config, options: ScaleOptions, progress: bool) -> tuple[pd.DataFrame, dict]:
    from mmrec_lib.data.synthetic_scale import make_scale_dataset

    stages = Stages(progress)
    results: dict = {}
    dataset = stages.run(
        "generate",
        f"{config.n_users:,} users x {config.n_items:,} items, {config.n_interactions:,} rows",
        lambda: make_scale_dataset(config, options.seed),
    )
    split = _split_stages(stages, dataset, options)
    results["split"] = {"n_users": split.n_users, "n_items": split.n_items}
    aux, text, image = _item_feature_stages(stages, dataset, split, options)
    for name in ("sasrec+", "bert4rec+"):
        results[name] = _sequential_stages(stages, name, split, aux, options)
    results["tsem"] = _tsem_stages(stages, dataset, text, image, options)
    return stages.table(), results


def _split_stages(stages: Stages, dataset, options: ScaleOptions):
    """k-core, then leave-one-out with stored negatives (the k-cored rows are dropped after)."""
    from mmrec_lib.data.splits import kcore, leave_one_out

    interactions = stages.run(
        "k-core (5, 5)",
        f"{len(dataset.interactions):,} rows",
        lambda: kcore(dataset.interactions, 5, 5),
        lambda kept: f"{len(kept):,} rows, {kept['item'].nunique():,} items kept",
    )
    return stages.run(
        f"leave-one-out, {options.n_negatives} negatives",
        f"{len(interactions):,} rows",
        lambda: leave_one_out(interactions, options.n_negatives, seed=options.seed),
        lambda s: f"{s.n_users:,} users, {s.n_items:,} items, {len(s.train_items):,} train",
    )


def _item_feature_stages(stages: Stages, dataset, split, options: ScaleOptions):
    """Text, image and XGBoost tables, and their fusion aligned to the split's items."""
    from mmrec_lib.features import fuse, item_image_features, xgboost_item_embeddings
    from mmrec_lib.features.sequence_items import training_interactions

    n_items = f"{len(dataset.items):,} items"
    text = stages.run(
        f"features: text ({options.text_encoder})",
        n_items,
        lambda: _text_features(dataset, options),
        lambda table: f"{table.dim} columns",
    )
    image = stages.run(
        "features: image (no posters)",
        n_items,
        lambda: item_image_features(dataset),
        lambda table: f"{table.dim} columns, {table.n_missing:,} zero rows",
    )
    train = stages.run(
        "features: training interactions",
        f"{len(split.train_items):,} pairs",
        lambda: training_interactions(dataset, split),
    )
    tabular = stages.run(
        "features: XGBoost leaf embeddings",
        f"{min(options.booster_rows, len(train)):,} sampled training rows",
        lambda: xgboost_item_embeddings(
            dataset,
            train,
            options.tabular_dim,
            seed=options.seed,
            max_rows=options.booster_rows,
            **options.booster,
        ),
        lambda table: f"{table.dim} columns",
    )

    def fused():
        tables = {"text": text, "image": image, "tabular": tabular}
        matrix = fuse(tables, list(tables), "concat").align(split.item_ids[1:]).matrix
        return np.vstack([np.zeros((1, matrix.shape[1]), np.float32), matrix])

    aux = stages.run(
        "features: fused (concat)",
        f"{split.n_items:,} split items",
        fused,
        lambda matrix: f"{matrix.shape[1]:,} columns, {matrix.nbytes / 2**20:,.0f} MiB",
    )
    return aux, text, image


def _text_features(dataset, options: ScaleOptions):
    """The plots as ``options.text_encoder`` features: TF-IDF + SVD, or the real MiniLM."""
    from mmrec_lib.features import ItemFeatures, item_text_features

    if options.text_encoder == "minilm":
        return item_text_features(dataset, "minilm")
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, dtype=np.float32)
    counts = words.fit_transform(dataset.items["plot"].fillna(""))
    dim = min(options.text_dim, counts.shape[1] - 1, counts.shape[0] - 1)
    matrix = TruncatedSVD(dim, random_state=options.seed).fit_transform(counts)
    return ItemFeatures(dataset.items.index.to_numpy(), matrix, "text:tfidf-svd")


def _sequential_stages(stages: Stages, name: str, split, aux, options: ScaleOptions) -> dict:
    """One (possibly capped) training epoch, then sampled and full-ranking test ranks."""
    from mmrec_lib.experiments.sequential import rank_held_out
    from mmrec_lib.metrics.ranking import ranking_metrics
    from mmrec_lib.models.sequential import sequential_model, shared_settings
    from mmrec_lib.models.training import fit, seed_everything

    cls = sequential_model(name).cls
    seed_everything(options.seed)
    model = cls.from_split(split, aux, **shared_settings(cls, d=options.d, max_len=options.max_len))
    total = _batches_per_epoch(model, split, options.batch_size)
    taken = min(total, options.max_train_batches or total)
    label = name.upper().replace("BERT4REC", "BERT4Rec").replace("SASREC", "SASRec")

    def train():
        return fit(
            model,
            lambda rng, _: itertools.islice(
                model.training_batches(split, rng, options.batch_size), taken
            ),
            lambda m, batch: m.loss(batch),
            None,
            options.train_config(),
        )

    history = stages.run(
        f"{label}: 1 epoch",
        f"{taken:,} of {total:,} batches of {options.batch_size}",
        train,
        lambda h: _epoch_note(h.seconds[0], taken, total, h.train_loss[0]),
    )
    out = {"train_loss": history.train_loss[0], "batches": taken, "batches_per_epoch": total}
    for protocol in ("sampled", "full"):
        ranks = stages.run(
            f"{label}: {protocol} evaluation (test)",
            f"{split.n_users:,} users x "
            + (
                f"{1 + split.negatives.shape[1]} items"
                if protocol == "sampled"
                else f"{split.n_items:,} items"
            ),
            lambda protocol=protocol: rank_held_out(
                model,
                split,
                protocol,
                "test",
                options.max_len,
                options.eval_batch_size,
                options.device,
            ),
            lambda r: f"NDCG@10 {ranking_metrics(r)['NDCG@10'].mean():.4f}",
        )
        out[f"{protocol}/NDCG@10"] = float(ranking_metrics(ranks)["NDCG@10"].mean())
        out[f"{protocol}/ranks"] = ranks
    return out


def _batches_per_epoch(model, split, batch_size: int) -> int:
    """How many batches ``model.training_batches`` yields in one epoch."""
    from mmrec_lib.models.sequential.training_data import next_item_targets, training_windows

    if hasattr(model, "copies"):  # BERT4Rec: every window, ``copies`` times
        step = None if model.windows == "last" else model.max_len
        windows = len(training_windows(split, model.max_len, step)[1]) * model.copies
    else:  # SASRec: the windows with at least one target
        targets = next_item_targets(split, model.max_len, model.windows)[1]
        windows = int((targets != 0).any(axis=1).sum())
    return -(-windows // batch_size)


def _epoch_note(seconds: float, taken: int, total: int, loss: float) -> str:
    if taken == total:
        return f"loss {loss:.3f}"
    return f"loss {loss:.3f}; whole epoch extrapolated: {seconds * total / taken:,.0f} s"


def _tsem_stages(stages: Stages, dataset, text, image, options: ScaleOptions) -> dict:
    """Paper A's rating split, TSEM's inputs with a genome block, one epoch, validation MSE."""
    import torch

    from mmrec_lib.data.splits import ratio_split
    from mmrec_lib.device import resolve_device
    from mmrec_lib.features import genome_item_features, tabular_item_table, user_genre_frequency
    from mmrec_lib.models.rating import TSEM
    from mmrec_lib.models.rating.data import RatingIndex, rating_tensors
    from mmrec_lib.models.training import fit, seed_everything, shuffled_batches

    def inputs():
        split = ratio_split(dataset.interactions, 0.2, 0.1, seed=options.seed)
        index = RatingIndex.from_frames(split.train, split.val, split.test)
        genome = genome_item_features(dataset.extras["genome"])
        blocks = {
            "tabular": tabular_item_table(dataset).align(index.item_ids).matrix,
            "poster": image.align(index.item_ids).matrix,
            "description": text.align(index.item_ids).matrix,
            "genome": genome.align(index.item_ids).matrix,
        }
        frequency = user_genre_frequency(split.train, dataset.items, dataset.genres)
        frequency = frequency.reindex(index.user_ids, fill_value=0.0).to_numpy(np.float32)
        device = resolve_device(options.device)
        train, val = (rating_tensors(frame, index, device) for frame in (split.train, split.val))
        return index, blocks, frequency, train, val

    index, blocks, frequency, train, val = stages.run(
        "TSEM: rating split and inputs",
        f"{len(dataset.interactions):,} rows, 70/10/20",
        inputs,
        lambda built: ", ".join(f"{k} {v.shape[1]:,}" for k, v in built[1].items()) + " columns",
    )
    seed_everything(options.seed)
    model = TSEM(
        index.n_users,
        index.n_items,
        blocks,
        frequency,
        dim=options.tsem_dim,
        global_mean=float(train[2].mean()),
    )
    total = -(-len(train[0]) // options.tsem_batch_size)
    taken = min(total, options.max_train_batches or total)

    def train_epoch():
        batches = lambda rng, _: itertools.islice(  # noqa: E731
            shuffled_batches(train, options.tsem_batch_size, rng), taken
        )
        return fit(model, batches, lambda m, batch: m.loss(*batch), None, options.train_config())

    history = stages.run(
        "TSEM + genome: 1 epoch",
        f"{taken:,} of {total:,} batches of {options.tsem_batch_size:,}",
        train_epoch,
        lambda h: _epoch_note(h.seconds[0], taken, total, h.train_loss[0]),
    )

    def validation_mse() -> float:
        model.eval()
        users, items, ratings = val
        errors = []
        with torch.no_grad():
            for start in range(0, len(users), 65_536):
                rows = slice(start, start + 65_536)
                errors.append(((model(users[rows], items[rows]) - ratings[rows]) ** 2).sum())
        return float(torch.stack(errors).sum() / len(users))

    mse = stages.run(
        "TSEM: validation MSE",
        f"{len(val[0]):,} ratings",
        validation_mse,
        lambda value: f"MSE {value:.3f}",
    )
    return {"train_loss": history.train_loss[0], "val_mse": mse}


def _machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    from mmrec_lib.device import resolve_device

    used = resolve_device(device)
    gpu = torch.cuda.get_device_name(used) if used.type == "cuda" else "no GPU used"
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.system()}, {gpu}"


def _body(table: pd.DataFrame, command: str, config, options: ScaleOptions, wall: float) -> str:
    import torch

    from mmrec_lib.device import resolve_device

    peak = table["peak RSS (MiB)"].max()
    full = table[table.index.str.contains("full evaluation")]["seconds"]
    load = os.getloadavg()[0]
    threads = options.threads or torch.get_num_threads()
    shared = " (the machine was shared, so seconds are upper bounds)" if load > threads else ""
    options_on = (("bf16 autocast", options.amp), ("torch.compile", options.compile))
    training = ", ".join(name for name, on in options_on if on)
    lines = [
        f"`{command}` on {_machine(options.device)}; torch {torch.__version__}, "
        f"{threads} torch and BLAS thread(s), 1-min load average {load:.1f} at the end"
        f"{shared}. Models on {resolve_device(options.device).type}"
        f"{', training with ' + training if training else ''}. Date: "
        f"{time.strftime('%Y-%m-%d')}. {wall / 60:.1f} minutes in all.",
        "",
        f"Dataset: `make_scale_dataset(ScaleConfig(n_users={config.n_users}, "
        f"n_items={config.n_items}, n_interactions={config.n_interactions}))`, seed "
        f"{options.seed}. Models: d {options.d}, max_len {options.max_len}, library default "
        f"losses (SASRec+: sampled softmax over 128 negatives; BERT4Rec+: softmax over all "
        f"items); training batches of {options.batch_size}, evaluation batches of "
        f"{options.eval_batch_size} users; XGBoost on {options.booster_rows:,} sampled "
        f"training rows ({options.booster.get('n_jobs', 1)} thread(s)); text: "
        + ("MiniLM" if options.text_encoder == "minilm" else "TF-IDF + SVD stand-in")
        + " (see the script's docstring for what is not the library's own path).",
        "",
        markdown_table(table),
        "",
        f"Peak resident memory of the whole run: {peak:,.0f} MiB (target "
        f"{MEMORY_TARGET_MIB:,}: {'met' if peak < MEMORY_TARGET_MIB else 'missed'}). "
        f"Full ranking of every user: {', '.join(f'{s:.0f} s' for s in full)} (target "
        f"{FULL_RANKING_TARGET_S} s: "
        f"{'met' if len(full) and full.max() < FULL_RANKING_TARGET_S else 'missed'}).",
    ]
    return "\n".join(lines)


def main() -> None:
    import sys

    from mmrec_lib.data.synthetic_scale import ScaleConfig, scale_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of ML-20M's size")
    parser.add_argument("--users", type=int, help="users (overrides --scale)")
    parser.add_argument("--items", type=int, help="items (overrides --scale)")
    parser.add_argument("--interactions", type=int, help="interactions (overrides --scale)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-train-batches", type=int, help="stop each epoch after this many")
    parser.add_argument("--eval-batch-size", type=int, default=1024)
    parser.add_argument("--booster-rows", type=int, default=1_000_000)
    parser.add_argument("--text-encoder", choices=TEXT_ENCODERS, default="tfidf")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch, BLAS, OpenMP and XGBoost threads"
    )
    parser.add_argument("--device", default="cpu", help="where models train and rank")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast in training")
    parser.add_argument("--compile", action="store_true", help="torch.compile training steps")
    parser.add_argument(
        "--section", default=SECTION, help="the README section --write-readme replaces"
    )
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()

    sizes = {"n_users": args.users, "n_items": args.items, "n_interactions": args.interactions}
    config = scale_config(args.scale, **{k: v for k, v in sizes.items() if v is not None})
    assert isinstance(config, ScaleConfig)
    options = ScaleOptions(
        seed=args.seed,
        max_train_batches=args.max_train_batches,
        eval_batch_size=args.eval_batch_size,
        booster_rows=args.booster_rows,
        text_encoder=args.text_encoder,
        threads=args.threads,
        booster={"n_jobs": args.threads},
        device=args.device,
        amp=args.amp,
        compile=args.compile,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mmrec-scale-") as folder:
        os.environ.setdefault("MMREC_CACHE_DIR", folder)
        table, _ = run_pipeline(config, options)
    wall = time.perf_counter() - started
    command = "python benchmarks/scale.py " + shlex.join(sys.argv[1:])
    body = _body(table, command.strip(), config, options, wall)
    print(body)
    if args.write_readme:
        write_section(args.section, body)


if __name__ == "__main__":
    main()
