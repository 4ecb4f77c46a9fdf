"""Progress bars, and where they go.

- In JupyterLab (an IPython kernel, with ipywidgets installed): tqdm's notebook widget.
- In a terminal or a script: tqdm's text bar on stderr.
- While the runbook executes the book's notebooks (it sets ``MMREC_PROGRESS=terminal`` for
  the kernel): the text bar on the terminal that runs ``make book``, never in the notebook, so
  no page carries progress text. The kernel inherits that terminal as its original standard
  error; ipykernel diverts file descriptor 2 into the notebook but keeps a copy of the
  original, which ``sys.stderr.fileno()`` returns, and the bars write there.
  :func:`to_terminal`, which the runbook runs when the kernel starts, sends the kernel's
  ``sys.stderr`` (warnings, logging, tracebacks printed by libraries) there too.

Without ipywidgets, ``tqdm.auto`` warns "IProgress not found" on import and falls back to the
text bar; that one warning is silenced (only while importing).
"""

from __future__ import annotations

import io
import os
import sys
import warnings

PROGRESS_ENV = "MMREC_PROGRESS"
TERMINAL = "terminal"
"""The value of ``MMREC_PROGRESS`` under which bars and stderr go to the terminal."""

_terminal: io.TextIOBase | None = None

__all__ = ["PROGRESS_ENV", "TERMINAL", "on_terminal", "terminal_stream", "to_terminal", "tqdm"]


def on_terminal() -> bool:
    """Whether progress goes to the terminal rather than to where this process writes."""
    return os.environ.get(PROGRESS_ENV) == TERMINAL


def terminal_stream() -> io.TextIOBase:
    """A text stream on this process's original standard error (in an ipykernel with its
    file descriptors diverted into the notebook: ipykernel's copy of the original one)."""
    global _terminal
    if _terminal is None:
        try:
            fd = sys.stderr.fileno()  # ipykernel: its copy of the original fd 2
        except (AttributeError, OSError, ValueError):
            fd = 2
        # a duplicate of the descriptor, open as long as the process lives
        _terminal = open(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")
    return _terminal


def to_terminal() -> None:
    """Send progress bars and this process's ``sys.stderr`` (hence warnings) to the
    terminal, for good: what the runbook runs when a notebook's kernel starts.

    Other libraries' bars (e.g. transformers' "Loading weights") come from ``tqdm.auto``,
    which in a kernel with ipywidgets would be a widget in the notebook; here it becomes the
    text bar, on ``sys.stderr``, the terminal.
    """
    import tqdm.auto
    import tqdm.autonotebook
    import tqdm.std

    os.environ[PROGRESS_ENV] = TERMINAL
    sys.stderr = terminal_stream()
    for module in (tqdm.auto, tqdm.autonotebook):
        module.tqdm, module.trange = tqdm.std.tqdm, tqdm.std.trange


def tqdm(*args, **kwargs):
    """A progress bar: ``tqdm.auto.tqdm(*args, **kwargs)``, or, under
    ``MMREC_PROGRESS=terminal``, a text bar on the terminal (updated at most every 10 s when
    that is a log file rather than a terminal)."""
    if on_terminal():
        from tqdm.std import tqdm as text_bar

        stream = kwargs.setdefault("file", terminal_stream())
        interactive = hasattr(stream, "isatty") and stream.isatty()
        kwargs.setdefault("mininterval", 0.1 if interactive else 10.0)
        return text_bar(*args, **kwargs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        from tqdm.auto import tqdm as auto_bar
    return auto_bar(*args, **kwargs)
