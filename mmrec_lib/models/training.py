"""One training loop for every neural model in mmrec.

A model is trained by :func:`fit` from three plain functions the caller supplies:

- ``train_batches(rng, history)`` yields the batches of one epoch (shuffled with ``rng``;
  ``history`` lets a schedule such as TSEM's progressive data depend on progress so far);
- ``loss_fn(model, batch)`` returns the scalar training loss of a batch;
- ``validate(model)`` returns the validation metric (lower is better when ``mode="min"``,
  e.g. MSE; higher when ``mode="max"``, e.g. NDCG@10); ``None`` trains for exactly
  ``config.epochs`` epochs and keeps the last weights (e.g. a refit on train + validation
  for an epoch count chosen earlier), recording NaN as the metric.

Each epoch draws its randomness (shuffling, dropout) from generators seeded with
``(seed, epoch)``, and a checkpoint is written after every epoch, so a run that is
interrupted and started again resumes where it stopped and ends with the same weights as
one that was never interrupted. Early stopping restores the best epoch's weights.

Two options for accelerators, both off by default (and then the loop runs exactly as it did
before they existed, bit for bit): ``amp`` runs the training forward pass and loss under
bfloat16 autocast, ``compile`` runs them through ``torch.compile``. A run config stores only
the training settings passed to it, so neither changes the key of an existing run.
"""

from __future__ import annotations

import copy
import math
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmrec_lib.device import deterministic_torch, resolve_device


@dataclass
class TrainConfig:
    """Settings of :func:`fit`; every model takes its own hyperparameters separately."""

    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 3
    seed: int = 0
    device: str = "auto"
    checkpoint_dir: str | Path | None = None
    progress: bool = True
    threads: int | None = None
    """torch's CPU threads while :func:`fit` runs (restored afterwards); None leaves torch's
    setting. 1 is often fastest for small models on a busy machine."""
    fingerprint: str = ""
    """Everything else that decides the run (a run key: model, hyperparameters, batch size,
    data and code); a checkpoint written under another fingerprint is never resumed."""
    amp: bool = False
    """Run each training batch's forward pass and loss under bfloat16 autocast (CUDA with
    bf16 support, or CPU); gradients, optimiser state and validation stay float32. Where the
    device has no bf16 autocast it warns and trains in float32."""
    compile: bool = False
    """Run each training batch's forward pass and loss through ``torch.compile`` (the
    model's weights, state dict and checkpoints are unchanged; the first batches pay for the
    compilation). Where torch cannot compile it warns and runs eagerly."""

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite positive number, got {self.lr!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"patience must be a positive integer, got {self.patience!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {self.threads!r}")
        for name in ("amp", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        resolve_device(self.device)


DIVERGENCE_FACTOR = 1e3
"""An epoch whose mean loss exceeds this multiple of the first batch's loss has diverged."""

RUN_SETTINGS = ("checkpoint_dir", "progress", "fingerprint")
"""TrainConfig fields a run function sets itself (under the run's key), never a run config."""


def checked_train(train: dict) -> dict:
    """A run config's training settings (TrainConfig fields), checked now so that a bad value
    fails before any data is read; :data:`RUN_SETTINGS` are refused."""
    reserved = sorted(set(train) & set(RUN_SETTINGS))
    if reserved:
        raise ValueError(f"train may not set {reserved}: the run function sets them")
    TrainConfig(**train)
    return train


@dataclass
class History:
    """Per-epoch training loss, validation metric and time; the best epoch (0-based)."""

    metric: str = "val"
    mode: str = "min"
    train_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1
    first_loss: float = math.nan
    """The loss of the very first batch, before any update: the yardstick of divergence."""

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    @property
    def best_metric(self) -> float:
        return self.val_metric[self.best_epoch] if self.best_epoch >= 0 else math.nan

    def improved(self, value: float) -> bool:
        if self.best_epoch < 0:
            return True
        best = self.best_metric
        return value < best if self.mode == "min" else value > best

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "epoch": np.arange(1, self.epochs_run + 1),
                "train_loss": self.train_loss,
                self.metric: self.val_metric,
                "seconds": self.seconds,
            }
        )


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch's global generators and return a numpy Generator from the same seed."""
    import torch

    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def shuffled_batches(
    tensors: tuple, batch_size: int, rng: np.random.Generator, shuffle: bool = True
) -> Iterable[tuple]:
    """Yield tuples of aligned slices of ``tensors`` (first dimension), in a random order."""
    import torch

    n = len(tensors[0])
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = rng.permutation(n) if shuffle else np.arange(n)
    order = torch.as_tensor(order, device=tensors[0].device)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield tuple(t[index] for t in tensors)


def fit(
    model,
    train_batches: Callable[[np.random.Generator, History], Iterable[Any]],
    loss_fn: Callable[[Any, Any], Any],
    validate: Callable[[Any], float] | None,
    config: TrainConfig,
    *,
    metric: str = "val_loss",
    mode: str = "min",
    optimizer: Callable[[Any], Any] | None = None,
    scheduler: Callable[[Any], Any] | None = None,
) -> History:
    """Train ``model`` in place with early stopping; return its :class:`History`.

    optimizer: builds the optimiser from the parameters (default Adam with config.lr and
        config.weight_decay). scheduler: builds an epoch-wise LR scheduler from the optimiser
        (e.g. ``lambda opt: CosineAnnealingLR(opt, T_max=15)``).
    """
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or previous_threads)
    try:
        return _fit(
            model, train_batches, loss_fn, validate, config, metric, mode, optimizer, scheduler
        )
    finally:
        torch.set_num_threads(previous_threads)


def _fit(model, train_batches, loss_fn, validate, config, metric, mode, optimizer, scheduler):
    import torch

    from mmrec_lib.progress import tqdm

    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    device = resolve_device(config.device)
    if device.type == "cuda":
        deterministic_torch()  # deterministic kernels where CUDA has them (README)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    opt = (optimizer or _default_optimizer(config))(params)
    sched = scheduler(opt) if scheduler else None
    history = History(metric=metric, mode=mode)
    state = _TrainingState(model, opt, sched, history, config)
    state.resume()
    training_loss = _training_loss(model, loss_fn, config, device)

    epochs = tqdm(
        range(history.epochs_run, config.epochs),
        desc=type(model).__name__,
        disable=not config.progress,
        initial=history.epochs_run,
        total=config.epochs,
    )
    for epoch in epochs:
        if state.waited >= config.patience:
            break
        started = time.perf_counter()
        rng = seed_everything(_epoch_seed(config.seed, epoch))
        model.train()
        total, count = 0.0, 0
        for batch_number, batch in enumerate(train_batches(rng, history)):
            loss = training_loss(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{type(model).__name__}: training loss became {loss.item()} at epoch "
                    f"{epoch + 1}, batch {batch_number + 1}; lower the learning rate "
                    f"(lr={config.lr:g}) or check the inputs for NaN/Inf"
                )
            if math.isnan(history.first_loss):
                history.first_loss = loss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            count += 1
        if count == 0:
            raise ValueError("train_batches yielded no batch: is the training set empty?")
        _check_divergence(model, params, total / count, epoch, history, config)
        if sched is not None:
            sched.step()
        model.eval()
        with torch.no_grad():
            value = math.nan if validate is None else float(validate(model))
        history.train_loss.append(total / count)
        history.val_metric.append(value)
        history.seconds.append(time.perf_counter() - started)
        state.record(value)
        epochs.set_postfix(loss=f"{total / count:.4f}", **{metric: f"{value:.4f}"})
        state.save()
    state.restore_best()
    return history


def _training_loss(model, loss_fn, config: TrainConfig, device) -> Callable[[Any], Any]:
    """``batch -> loss_fn(model, batch)`` as :func:`fit` calls it each batch: as it is by
    default, compiled with ``config.compile``, under bf16 autocast with ``config.amp``."""
    import torch

    def plain(batch):
        return loss_fn(model, batch)

    if not (config.amp or config.compile):
        return plain
    step = plain
    if config.compile:
        if _can_compile():
            step = torch.compile(plain)
        else:
            warnings.warn("torch.compile is not available here; training eagerly", stacklevel=3)
    if not config.amp:
        return step
    if not bf16_autocast_available(device):
        warnings.warn(f"no bfloat16 autocast on {device}; training in float32", stacklevel=3)
        return step

    def mixed(batch):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return step(batch).float()

    return mixed


def bf16_autocast_available(device) -> bool:
    """Whether ``device`` (a torch.device) runs bfloat16 autocast: CPU, CUDA with bf16."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return torch.amp.is_autocast_available(device.type)


def _can_compile() -> bool:
    import torch

    return hasattr(torch, "compile") and torch._dynamo.is_dynamo_supported()


def _check_divergence(model, params, mean_loss: float, epoch: int, history, config) -> None:
    """Raise FloatingPointError, naming the learning rate, when the epoch's mean loss grew by
    orders of magnitude over the first batch's, or a weight became NaN or infinite."""
    import torch

    name, where = type(model).__name__, f"at epoch {epoch + 1}"
    advice = f"training diverged; lower the learning rate (lr={config.lr:g})"
    if abs(mean_loss) > DIVERGENCE_FACTOR * abs(history.first_loss):
        raise FloatingPointError(
            f"{name}: mean loss {mean_loss:.3g} {where} is over {DIVERGENCE_FACTOR:g} times "
            f"the first batch's ({history.first_loss:.3g}): {advice}"
        )
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise FloatingPointError(f"{name}: weights became NaN or infinite {where}: {advice}")


def _default_optimizer(config: TrainConfig):
    import torch

    return lambda params: torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class _TrainingState:
    """Best weights, patience and the on-disk checkpoint of one :func:`fit` call."""

    def __init__(self, model, optimizer, scheduler, history: History, config: TrainConfig):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.history, self.config = history, config
        self.best_state = copy.deepcopy(model.state_dict())
        self.waited = 0
        directory = config.checkpoint_dir
        self.path = Path(directory) / "checkpoint.pt" if directory is not None else None

    def record(self, value: float) -> None:
        if math.isnan(value) or self.history.improved(value):
            self.history.best_epoch = len(self.history.val_metric) - 1
            self.best_state = copy.deepcopy(self.model.state_dict())
            self.waited = 0
        else:
            self.waited += 1

    def restore_best(self) -> None:
        self.model.load_state_dict(self.best_state)

    def save(self) -> None:
        import torch

        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "history": asdict(self.history),
            "best_state": self.best_state,
            "waited": self.waited,
            "config": _fingerprint(self.config),
        }
        partial = self.path.with_name(f"{self.path.stem}.{os.getpid()}.{uuid.uuid4().hex}.partial")
        torch.save(payload, partial)
        partial.replace(self.path)

    def resume(self) -> None:
        import torch

        if self.path is None or not self.path.is_file():
            return
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=False)
            written_with = payload["config"]
        except Exception as error:  # truncated, bit-flipped or foreign: start afresh
            aside = self.path.with_name(f"{self.path.name}.damaged-{os.getpid()}")
            os.replace(self.path, aside)
            warnings.warn(
                f"checkpoint {self.path} cannot be read ({type(error).__name__}: {error}); "
                f"moved it to {aside} and training from the start",
                stacklevel=2,
            )
            return
        if written_with != _fingerprint(self.config):
            raise ValueError(
                f"checkpoint {self.path} was written with another configuration "
                f"({payload['config']}); delete it or use another checkpoint_dir"
            )
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload["scheduler"] is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        for key, value in payload["history"].items():
            setattr(self.history, key, value)
        self.best_state = payload["best_state"]
        self.waited = payload["waited"]


def _fingerprint(config: TrainConfig) -> dict:
    """The settings a checkpoint must agree on to be resumed (epochs may be raised)."""
    kept = asdict(config)
    for key in ("epochs", "checkpoint_dir", "progress", "device", "threads"):
        kept.pop(key)
    for key in ("amp", "compile"):  # at their defaults: the fingerprint of older checkpoints
        if not kept[key]:
            kept.pop(key)
    return kept
