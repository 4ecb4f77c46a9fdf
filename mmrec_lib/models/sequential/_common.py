"""Small checks and tensor helpers shared by the sequential models."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmrec_lib.models import require_positive

__all__ = ["require_positive"]


def require_probability(**values: Any) -> None:
    """Raise ValueError naming each argument outside [0, 1)."""
    bad = [f"{name}={value!r}" for name, value in values.items() if not 0 <= value < 1]
    if bad:
        raise ValueError(f"these rates must lie in [0, 1): {', '.join(bad)}")


def require_users(users: Any, model: str) -> None:
    if users is None:
        raise ValueError(f"{model} scores per user: pass users=(the users' indices)")


def device_of(module: Any):
    """The device of a module's first parameter or buffer."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    raise ValueError(f"{type(module).__name__} has no parameters or buffers")


def as_long(values: Any, device: Any):
    """An int64 tensor on ``device`` from a numpy array or tensor."""
    import torch

    return torch.as_tensor(values, dtype=torch.long, device=device)


def with_held_out(model: Any, split: Any) -> Any:
    """The model with the split's held-out (cold-start) item indices in its ``held_out``
    buffer, which its full-softmax loss masks."""
    import torch

    model.held_out = torch.as_tensor(split.held_out_items, dtype=torch.long)
    return model


def last_query_attention(maps: np.ndarray) -> np.ndarray:
    """(n_users, L) attention of the last query over keys, mean over blocks and heads.

    maps: (n_blocks, n_users, n_heads, L, L) with rows = queries, columns = keys, as
    ``SASRec.attention_maps`` returns per block (stack them on axis 0).
    """
    maps = np.asarray(maps)
    if maps.ndim != 5 or maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"maps must be (blocks, users, heads, L, L), got shape {maps.shape}")
    return maps[:, :, :, -1, :].mean(axis=(0, 2))
