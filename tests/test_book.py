"""The book builds from the executed notebooks, and every page loads in headless Chromium."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmrec_lib.report.runbook import ROOT, write_generated_pages

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def toc_files(toc: Path) -> list[str]:
    """Every page the table of contents names, root first."""
    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]
    for part in data.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, executed_notebooks) -> Path:
    """A copy of the book's sources with the smoke-executed notebooks, built with -W."""
    root = tmp_path_factory.mktemp("book")
    shutil.copy(ROOT / "_config.yml", root)
    shutil.copytree(
        ROOT / "book", root / "book", ignore=shutil.ignore_patterns("executed", "generated")
    )
    (root / "book" / "executed").mkdir()
    for executed in executed_notebooks.values():
        shutil.copy(executed, root / "book" / "executed" / executed.name)
    write_generated_pages("smoke", root / "book" / "generated", root / "book" / "executed")
    # What `make test` leaves behind in the repository must not break the book's -W build.
    (root / ".pytest_cache").mkdir()
    (root / ".pytest_cache" / "README.md").write_text("# pytest cache directory\n")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            str(root),
            "--toc",
            str(root / "book" / "_toc.yml"),
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "_build" / "html"


@pytest.mark.notebooks
@pytest.mark.slow
def test_toc_names_every_notebook_and_every_page_exists(executed_notebooks):
    files = toc_files(ROOT / "book" / "_toc.yml")
    for stem in executed_notebooks:
        assert f"book/executed/{stem}" in files, f"book/_toc.yml lacks book/executed/{stem}"
    for file in files:
        if not file.startswith(("book/executed/", "book/generated/")):
            assert (ROOT / f"{file}.md").is_file(), f"{file}.md is in the toc but missing"


@pytest.mark.notebooks
@pytest.mark.slow
def test_every_page_loads_in_chromium_without_errors(built_book, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("MMREC_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (MMREC_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    for file in toc_files(ROOT / "book" / "_toc.yml"):
        page = built_book / f"{file}.html"
        assert page.is_file(), f"{page} was not built"
        dom = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        assert "</html>" in dom, f"{file}: chromium returned no page"
        assert "Traceback (most recent call last)" not in dom, f"{file} shows a traceback"
        assert not re.search(r'class="[^"]*output (error|traceback)', dom), f"{file}: error cell"
        assert "mmrec-banner" in dom or "Built with profile" in dom, f"{file}: no data banner"
        if file.startswith("book/executed/"):
            assert "<img" in dom, f"{file} shows no figure"
