"""Loss curves: training loss and validation metric per epoch, one panel per model."""

from __future__ import annotations

from collections.abc import Mapping

from mmrec_lib.models.training import History


def loss_curves(histories: Mapping[str, History], title: str = "", panel_width: float = 3.6):
    """A row of panels (one per model): train loss and validation metric against epoch.

    The best epoch (the weights kept by early stopping) is marked with a dotted line.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if not histories:
        raise ValueError("loss_curves needs at least one history")
    figure, axes = plt.subplots(
        1, len(histories), figsize=(panel_width * len(histories), 3.0), squeeze=False
    )
    for axis, (name, history) in zip(axes[0], histories.items(), strict=True):
        frame = history.to_frame()
        axis.plot(frame["epoch"], frame["train_loss"], marker="o", ms=3, label="train loss")
        axis.plot(frame["epoch"], frame[history.metric], marker="s", ms=3, label=history.metric)
        if history.best_epoch >= 0:
            axis.axvline(history.best_epoch + 1, color="grey", linestyle=":", label="best epoch")
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("loss / metric")
    axes[0][0].legend(fontsize="small")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
