"""What every notebook shows around its results: the banner, checked parameters, tables.

Notebooks call these so that each page states its dataset and profile, rejects a bad
parameter before any work, shows the paper's figure beside ours, and records each
number once with ``myst_nb.glue`` (the book cites it, the tests read it back).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

KNOWN_DATASETS = (
    "synthetic",
    "ml-100k",
    "ml-1m",
    "ml-20m",
    "ml-25m",
    "ml-latest-small",
    "amazon-fashion",
)


def banner(dataset: str, profile: str, details: str = "", data: Any = None) -> Any:
    """A coloured box stating the dataset and profile a page ran on (IPython HTML).

    data: the loaded :class:`~mmrec_lib.data.Dataset`, optional; given it, the box says so
    when the dataset's side information was left out (``extras["side_info"]``), or when
    repeated interactions or posters were left out while loading.
    """
    from IPython.display import HTML

    synthetic = dataset == "synthetic"
    colour, note = (
        (
            "#fff3cd",
            "synthetic stand-in data: these numbers check the pipeline; "
            "they are not the reproduction",
        )
        if synthetic
        else ("#d1ecf1", "real data")
    )
    text = f"<b>Dataset: <code>{dataset}</code> &middot; profile: <code>{profile}</code></b>"
    text += f" &mdash; {note}." + (f"<br>{details}" if details else "")
    text += "".join(f"<br>{line}" for line in _data_notes(data))
    style = f"background:{colour};border:1px solid #999;padding:8px 12px;border-radius:4px"
    return HTML(f'<div class="mmrec-banner" style="{style}">{text}</div>')


def _data_notes(data: Any) -> list[str]:
    """Lines for the banner about what loading left out of ``data`` (a Dataset, or None)."""
    if data is None:
        return []
    extras = getattr(data, "extras", {}) or {}
    notes = []
    if extras.get("side_info"):
        notes.append(
            f"<b>Side information {html.escape(str(extras['side_info']))}</b>: no plots, "
            "cast or posters; content features are empty."
        )
    if extras.get("duplicates_dropped"):
        notes.append(
            f"{extras['duplicates_dropped']:,} repeated (user, item) rows were dropped "
            "(the latest of each pair is kept)."
        )
    coverage = getattr(data, "coverage", None)
    if coverage is not None and "modality" in coverage.columns:
        causes = [c for c in ("unreadable", "checksum_mismatch") if c in coverage.columns]
        bad = int(coverage.loc[coverage["modality"] == "poster_path", causes].to_numpy().sum())
        if bad:
            notes.append(f"{bad:,} posters are not used (unreadable or checksum mismatch).")
    return notes


def paper_beside_ours(
    ours: pd.DataFrame, paper: pd.DataFrame, label_ours: str = "ours", label_paper: str = "paper"
) -> pd.DataFrame:
    """Interleave two tables of the same shape column by column: (col, paper), (col, ours).

    Rows are aligned by index; a cell the paper does not report is left empty (NaN).
    """
    columns = list(dict.fromkeys([*paper.columns, *ours.columns]))
    index = list(dict.fromkeys([*ours.index, *paper.index]))
    pieces = {}
    for column in columns:
        for label, table in ((label_paper, paper), (label_ours, ours)):
            values = table[column] if column in table.columns else pd.Series(dtype=float)
            pieces[(column, label)] = values.reindex(index)
    return pd.DataFrame(pieces, index=index)


def glue_all(prefix: str, values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Record each value with ``myst_nb.glue`` as ``<prefix>_<name>`` (not displayed).

    Returns the values under their glued names, so that a page can judge its claims from
    exactly what it recorded (:func:`mmrec_lib.report.claims.claim_values`).
    """
    from myst_nb import glue

    items = values.items() if isinstance(values, Mapping) else values
    glued = {f"{prefix}_{name}": _plain(value) for name, value in items}
    for name, value in glued.items():
        glue(name, value, display=False)
    return glued


def book_table(styler: Any, caption: str = "") -> Any:
    """A pandas Styler dressed as the book shows tables: the theme's ``dataframe`` look
    (borders, zebra rows; ``book/_static/mmrec.css`` makes it compact and scroll sideways
    when wider than the page) and an optional caption above it."""
    styler = styler.set_table_attributes('class="dataframe mmrec-table"')
    return styler.set_caption(caption) if caption else styler


def table_in_full(frame: pd.DataFrame, decimals: int = 4) -> Any:
    """A numeric table at ``decimals`` decimals with empty cells blank (not "NaN")."""
    return book_table(frame.style.format(precision=decimals, na_rep=""))


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds, so that its glued text is "0.5", not
    "np.float64(0.5)" (which the book's ``{glue:text}`` could not format)."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def show_tables_in_full() -> None:
    """Let pandas show every row, column and character of a table (no "..." and no
    "N rows x M columns" footer): the book's tables are small, and a reader must see all of
    them. A table wider than the page scrolls sideways (the book's ``mmrec.css``)."""
    for option, value in {
        "display.max_rows": None,
        "display.max_columns": None,
        "display.max_colwidth": None,
        "display.width": None,
        "display.show_dimensions": False,
    }.items():
        pd.set_option(option, value)
