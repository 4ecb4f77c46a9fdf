"""The book builds from the executed notebooks, every page loads in headless Chromium, and
every page reads cleanly: no progress bars, warnings, stderr or machine paths, no truncated
table, a caption on every figure, every glued number resolved, and each chapter ends with
the verdicts the claims scoreboard links to."""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from mmrec_lib.report.claims import CLAIMS, VERDICTS
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


# What a reader must never see on a page -----------------------------------------------------

PROGRESS_BAR = re.compile(r"\d+%\||it/s\]|s/it\]|\|[█▏▎▍▌▋▊▉]+")
WARNING = re.compile(r"\b\w*Warning: ")
STDERR_OUTPUT = re.compile(r'class="[^"]*\b(output stderr|stderr)\b')
TRUNCATED_CELL = re.compile(r"<t[dh][^>]*>[^<]*(?:\.\.\.|…)\s*</t[dh]>")
DIMENSIONS_FOOTER = re.compile(r"\d+ rows [×x] \d+ columns")
UNRESOLVED = re.compile(
    r"\{glue(?::\w+)?\}|\{ref\}|\{doc\}|\(claim-[a-z0-9-]+\)=|```\{\w+\}|problematic"
)


def machine_paths() -> tuple[str, ...]:
    """Absolute paths of the machine that built the book: never shown to a reader."""
    return tuple(dict.fromkeys(("/work/", "/home/", "/tmp/", "/root/", f"{ROOT}/")))


class _Text(HTMLParser):
    """The text a reader sees (no tags, scripts or styles), and each image with whether it
    sits in a <figure> that has a <figcaption>."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.hidden = 0
        self.figures: list[dict] = []  # open <figure>s: {"images": n, "caption": bool}
        self.images_outside_captioned_figures = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag == "figure":
            self.figures.append({"images": 0, "caption": False})
        elif tag == "figcaption" and self.figures:
            self.figures[-1]["caption"] = True
        elif tag == "img":
            if self.figures:
                self.figures[-1]["images"] += 1
            else:
                self.images_outside_captioned_figures += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag == "figure" and self.figures:
            figure = self.figures.pop()
            if not figure["caption"]:
                self.images_outside_captioned_figures += figure["images"]

    def handle_data(self, data):
        if not self.hidden:
            self.text.append(data)


def reader_problems(dom: str) -> dict[str, list[str]]:
    """What a reader should not see in a rendered page's DOM, by kind (empty lists: clean).

    - ``progress``: progress-bar text (``42%|``, ``3.2it/s]``, bar blocks);
    - ``warning``: a ``...Warning: `` message, or an output block of stderr;
    - ``path``: an absolute path of the building machine (in text or in markup);
    - ``truncated``: a table cell that pandas cut ("...") or a "N rows x M columns" footer;
    - ``figure``: an image that is not in a figure with a caption;
    - ``unresolved``: MyST that did not render: a ``{glue:...}`` or ``{ref}`` role, a
      ``(claim-...)=`` target, a directive fence shown as text (```` ```{admonition} ````),
      or docutils' "problematic" marker.
    """
    parser = _Text()
    parser.feed(dom)
    text = " ".join(parser.text)
    found = {
        "progress": PROGRESS_BAR.findall(text),
        "warning": WARNING.findall(text) + STDERR_OUTPUT.findall(dom),
        "path": [p for p in machine_paths() if p in dom],
        "truncated": TRUNCATED_CELL.findall(dom) + DIMENSIONS_FOOTER.findall(text),
        "figure": ["image without a captioned figure"] * parser.images_outside_captioned_figures,
        "unresolved": UNRESOLVED.findall(text) + re.findall(r'class="[^"]*problematic', dom),
    }
    return {kind: [str(item) for item in items] for kind, items in found.items()}


def test_reader_problems_finds_each_kind_on_hand_made_pages():
    clean = (
        '<html><body><p>NDCG@10 0.457; 45% of users</p><figure><img src="a.png">'
        "<figcaption>Loss per epoch.</figcaption></figure>"
        "<table><tr><td>0.706</td><td>Star Wars (1977)</td></tr></table>"
        '<script>var path = "/tmp/x"; var w = "UserWarning: ";</script></body></html>'
    )
    assert not any(reader_problems(clean.replace("/tmp/x", "x")).values())
    assert reader_problems(clean)["path"] == ["/tmp/"]  # markup counts too
    bad = {
        "progress": "<pre>BPR:  5%|▌         | 1/20 [00:01&lt;00:19,  1.00s/it]</pre>",
        "warning": '<div class="output stderr"><pre>TqdmWarning: IProgress not found</pre>',
        "path": "<pre>/home/me/.venv/lib/python3.11/site-packages/tqdm/auto.py</pre>",
        "truncated": "<table><tr><td>0.1</td><td>...</td></tr></table><p>6 rows × 27 columns</p>",
        "figure": '<div class="cell_output"><img src="fig.png"></div>',
        "unresolved": "<p>SASRec+ reaches {glue:text}`table1_x:.3f`</p>",
    }
    for kind, snippet in bad.items():
        problems = reader_problems(f"<html><body>{snippet}</body></html>")
        assert problems[kind], f"{kind} not found in {snippet}"
    uncaptioned = "<figure><img src='a.png'></figure>"
    assert reader_problems(uncaptioned)["figure"]
    # a fence whose info string holds a backtick is no fence in CommonMark: shown as text
    raw_directive = "<p>```{admonition} Built with profile <code>smoke</code></p>"
    assert reader_problems(raw_directive)["unresolved"]


# The build and the pages as Chromium renders them ------------------------------------------


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


@pytest.fixture(scope="session")
def rendered_pages(built_book, tmp_path_factory) -> dict[str, str]:
    """{toc file: the page's DOM after Chromium loaded it}, every page of the toc."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("MMREC_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (MMREC_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    pages = {}
    for file in toc_files(ROOT / "book" / "_toc.yml"):
        page = built_book / f"{file}.html"
        assert page.is_file(), f"{page} was not built"
        pages[file] = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    return pages


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
def test_every_page_loads_in_chromium_without_errors(rendered_pages):
    for file, dom in rendered_pages.items():
        assert "</html>" in dom, f"{file}: chromium returned no page"
        assert "Traceback (most recent call last)" not in dom, f"{file} shows a traceback"
        assert not re.search(r'class="[^"]*output (error|traceback)', dom), f"{file}: error cell"
        assert "mmrec-banner" in dom or "Built with profile" in dom, f"{file}: no data banner"
        if file.startswith("book/executed/"):
            assert "<img" in dom, f"{file} shows no figure"


def _problems(rendered_pages: dict[str, str], *kinds: str) -> dict[str, dict[str, list[str]]]:
    found = {}
    for file, dom in rendered_pages.items():
        problems = {k: v[:3] for k, v in reader_problems(dom).items() if k in kinds and v}
        if problems:
            found[file] = problems
    return found


@pytest.mark.notebooks
@pytest.mark.slow
def test_no_page_shows_progress_bars_warnings_or_stderr(rendered_pages):
    assert not _problems(rendered_pages, "progress", "warning")


@pytest.mark.notebooks
@pytest.mark.slow
def test_no_page_shows_a_path_of_the_building_machine(rendered_pages):
    assert not _problems(rendered_pages, "path")


@pytest.mark.notebooks
@pytest.mark.slow
def test_no_table_is_truncated_and_every_figure_has_a_caption(rendered_pages):
    assert not _problems(rendered_pages, "truncated", "figure")


@pytest.mark.notebooks
@pytest.mark.slow
def test_every_glued_number_and_link_is_resolved(rendered_pages):
    assert not _problems(rendered_pages, "unresolved")


@pytest.mark.notebooks
@pytest.mark.slow
def test_each_chapter_ends_with_its_verdicts_and_the_scoreboard_links_to_them(rendered_pages):
    scoreboard = rendered_pages["book/generated/claims"]
    for claim in CLAIMS:
        chapter = rendered_pages[f"book/executed/{claim.page}"]
        assert f'id="{claim.anchor}"' in chapter, f"{claim.page} has no target {claim.anchor}"
        assert f'href="../executed/{claim.page}.html#{claim.anchor}"' in scoreboard, (
            f"the scoreboard does not link {claim.name} to its sentence"
        )
        sentence = chapter.split(f'id="{claim.anchor}"')[1].split("</p>")[0]
        verdicts = re.findall(r"<strong>(?:<span[^>]*>)?([a-z ]+)(?:</span>)?</strong>", sentence)
        assert set(verdicts) & set(VERDICTS), (
            f"{claim.page}: the sentence after {claim.anchor} states no verdict"
        )
    for file, dom in rendered_pages.items():
        if file.startswith("book/executed/"):
            assert 'id="what-we-found"' in dom, f"{file} has no 'What we found' section"
