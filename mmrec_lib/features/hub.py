"""Model-hub access for the online-only encoders: the offline switch and its error."""

from __future__ import annotations

import os


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set (read at call time)."""
    flags = (os.environ.get(name, "") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag.strip().lower() in {"1", "true", "yes", "on"} for flag in flags)


def online_only_error(encoder: str, source: str, default: str) -> RuntimeError:
    """The error for an encoder whose weights must be downloaded but cannot be."""
    return RuntimeError(
        f"encoder {encoder!r} ({source}) could not be loaded: its weights are downloaded at "
        f"first use, so it needs internet access or an already filled cache. "
        f"{default!r} ships with its package and works offline."
    )
