"""Which torch device work runs on, and torch's deterministic settings.

Every layer that touches torch (feature encoders, models, the training loop) picks its device
here, so none of them imports a higher layer to do so.
"""

from __future__ import annotations


def resolve_device(device: str = "auto"):
    """``"auto"`` is CUDA when present, else CPU; anything else is passed to torch."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here")
    return resolved


def deterministic_torch() -> None:
    """Ask torch for deterministic kernels where they exist.

    On CPU every kernel mmrec uses is deterministic already. On CUDA this selects cuDNN's
    deterministic algorithms and sets ``CUBLAS_WORKSPACE_CONFIG`` (needed by cuBLAS);
    ``warn_only`` keeps the few kernels without a deterministic version (e.g. the
    ``index_add`` behind embedding gradients on some GPUs) usable, with a warning, so results
    on a GPU can still differ in the last digits between runs (README, "Reproducibility").
    """
    import os

    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
