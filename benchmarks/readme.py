"""Writing a benchmark's results into its own section of benchmarks/README.md."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

README = Path(__file__).with_name("README.md")


def markdown_table(table: pd.DataFrame, index: bool = True) -> str:
    """The table as Markdown: integers with thousands separators, other numbers with three
    decimals (a missing one blank), text as it is."""

    def cells(column: pd.Series) -> pd.Series:
        if column.dtype.kind in "iu":
            return column.map("{:,}".format)
        if column.dtype.kind == "f":
            return column.map(lambda value: "" if pd.isna(value) else f"{value:.3f}")
        return column.astype(str)

    text = table.apply(cells)
    columns = text.shape[1] + (1 if index else 0)
    return text.to_markdown(
        index=index, colalign=("left", *["right"] * (columns - 1)), disable_numparse=True
    )


def write_section(title: str, body: str, readme: Path = README) -> None:
    """Put (or replace) the section headed ``## {title}`` of the README with ``body``."""
    heading = f"## {title}"
    section = f"{heading}\n\n{body.strip()}\n"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    start = text.find(heading + "\n")
    if start >= 0:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text)
