"""Execute the book's notebooks with papermill under a profile, and write the build pages.

``python -m mmrec_lib.report.runbook --profile synthetic`` runs every notebook in ``notebooks/``
(found by glob) with the parameters the profile file ``profiles/<profile>.yml`` gives it,
into ``book/executed/``. A notebook whose source, parameters and library code are unchanged
since its last run is not run again. It also writes ``book/generated/``: the banner every
page shows (dataset and profile) and the environment page (versions, machine, commit).

Progress belongs to the terminal, not to the pages: the terminal shows each notebook (``notebook
2/5``) and how long it took, and, from inside the kernel, the library's progress bars (runs and
epochs, with an ETA) and anything written to stderr (``mmrec_lib.progress``, under
``MMREC_PROGRESS=terminal``). The executed notebooks keep no stderr, warning or progress-bar
output (:func:`clean_outputs`).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from mmrec_lib.hashing import COMPUTING_PACKAGES
from mmrec_lib.progress import PROGRESS_ENV, TERMINAL

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
PROFILE_DIR = ROOT / "profiles"
EXECUTED_DIR = ROOT / "book" / "executed"
GENERATED_DIR = ROOT / "book" / "generated"
STAMP_KEY = "mmrec_run_stamp"
KERNEL_STARTUP = "import mmrec_lib.progress; mmrec_lib.progress.to_terminal()"
"""What each notebook's kernel runs first: its bars and stderr go to the terminal."""
PROGRESS_TEXT = re.compile(r"\d+%\||\[\d+:\d\d(?::\d\d)?(?:<[^,\]]*)?,\s")
"""A tqdm bar: ``desc:  5%|▌   | 1/20 [00:01<00:19, 1.00s/it]`` or ``desc: 3it [00:01, ...]``."""
WARNING_TEXT = re.compile(r"^\S.*:\d+: \w*Warning: |^\[\d\d:\d\d:\d\d\] WARNING: ")
"""A warning printed as text: Python's ``path:line: UserWarning: ...``, or XGBoost's."""
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yml"))


def load_profile(name: str) -> dict:
    """The profile's settings: description, dataset, common and per-notebook parameters."""
    import yaml

    path = PROFILE_DIR / f"{name}.yml"
    if not path.is_file():
        raise ValueError(f"unknown profile {name!r}; choose one of {available_profiles()}")
    profile = yaml.safe_load(path.read_text()) or {}
    profile.setdefault("common", {})
    profile.setdefault("notebooks", {})
    profile["name"] = name
    return profile


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def notebook_parameters(profile: dict, notebook: Path) -> dict:
    """Common parameters, overridden by the notebook's own, plus the profile name."""
    own = profile["notebooks"].get(notebook.stem, {})
    return {**profile["common"], **own, "profile": profile["name"]}


def notebook_defaults(notebook: Path) -> dict:
    """The values of the notebook's ``parameters`` cell (what runs when nothing is given)."""
    import papermill

    return {
        name: ast.literal_eval(spec["default"])
        for name, spec in papermill.inspect_notebook(str(notebook)).items()
    }


def library_digest() -> str:
    """A hash of the library's source: a changed library runs every notebook again."""
    from mmrec_lib.hashing import source_fingerprint

    return source_fingerprint((*COMPUTING_PACKAGES, "analysis", "report"))


def run_stamp(notebook: Path, parameters: dict, library: str) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    digest.update(library.encode())
    return digest.hexdigest()


def use_recorded_results(profile: dict) -> None:
    """Point the notebooks' sweeps (``MMREC_RESULTS_DIR``) at the profile's recorded results
    (its ``results`` entry, e.g. ``results/ml-100k``), if it has one."""
    from mmrec_lib.experiments.results import RESULTS_ENV

    if profile.get("results"):
        os.environ[RESULTS_ENV] = str(ROOT / profile["results"])


def recorded_results_digest(profile: dict) -> str:
    """A digest of the profile's recorded results: a new or changed record runs the
    notebooks again."""
    if not profile.get("results"):
        return ""
    digest = hashlib.sha256()
    for path in sorted((ROOT / profile["results"]).glob("*/record.json")):
        digest.update(path.parent.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_of(executed: Path) -> str | None:
    if not executed.is_file():
        return None
    try:
        return json.loads(executed.read_text()).get("metadata", {}).get(STAMP_KEY)
    except json.JSONDecodeError:
        return None


def execute_notebooks(
    profile_name: str,
    output_dir: Path = EXECUTED_DIR,
    notebooks: list[Path] | None = None,
    overrides: dict | None = None,
    force: bool = False,
) -> list[Path]:
    """Run each notebook under the profile (skipping unchanged finished runs); return outputs.

    The terminal shows each notebook's number, name and time, and the progress its kernel
    reports; the executed notebooks keep none of it (:func:`clean_outputs`).
    """
    profile = load_profile(profile_name)
    library = library_digest() + recorded_results_digest(profile)
    output_dir.mkdir(parents=True, exist_ok=True)
    use_recorded_results(profile)
    notebooks = notebooks if notebooks is not None else notebook_paths()
    outputs, executed, started = [], 0, time.perf_counter()
    for number, notebook in enumerate(notebooks, 1):
        parameters = {**notebook_parameters(profile, notebook), **(overrides or {})}
        stamp = run_stamp(notebook, parameters, library)
        output = output_dir / notebook.name
        where = f"[runbook] notebook {number}/{len(notebooks)} {notebook.name}"
        if not force and _stamp_of(output) == stamp:
            _say(f"{where}: unchanged, reusing {_shown(output)}")
        else:
            _say(f"{where}: executing with {parameters}")
            seconds = execute_notebook(notebook, output, parameters, stamp)
            _say(f"{where}: done in {_duration(seconds)}")
            executed += 1
        outputs.append(output)
    _say(
        f"[runbook] {len(notebooks)} notebooks: {executed} executed, "
        f"{len(notebooks) - executed} unchanged, in {_duration(time.perf_counter() - started)}"
    )
    return outputs


def execute_notebook(notebook: Path, output: Path, parameters: dict, stamp: str = "") -> float:
    """Execute one notebook with papermill into ``output``, progress and stderr to the
    terminal, outputs cleaned (:func:`clean_outputs`); return the seconds it took.

    The kernel starts with ``MMREC_PROGRESS=terminal`` and runs :data:`KERNEL_STARTUP` first.
    On an error papermill raises, and the partly executed notebook is left beside ``output``
    (``*.partial.ipynb``) to read.
    """
    import nbformat
    import papermill

    started = time.perf_counter()
    partial = output.with_suffix(".partial.ipynb")
    with _environment({PROGRESS_ENV: TERMINAL}):
        papermill.execute_notebook(
            notebook,
            partial,
            parameters=parameters,
            cwd=str(ROOT),
            kernel_name="python3",
            progress_bar=False,
            extra_arguments=[f"--IPKernelApp.exec_lines={KERNEL_STARTUP}"],
        )
    executed = nbformat.read(partial, as_version=4)
    removed = clean_outputs(executed)
    for description in removed[:5]:
        _say(f"[runbook] {notebook.name}: left off the page: {description}")
    if len(removed) > 5:
        _say(f"[runbook] {notebook.name}: left off the page: {len(removed) - 5} more outputs")
    executed.metadata[STAMP_KEY] = stamp
    nbformat.write(executed, partial)
    partial.replace(output)
    return time.perf_counter() - started


def clean_outputs(notebook) -> list[str]:
    """Remove from an executed notebook (nbformat) what belongs to the terminal, not to the
    page: stderr streams, progress-bar widgets, and progress-bar or warning lines printed
    to stdout (the rest of stdout, printed on purpose, stays). Returns a short description
    of each output removed or trimmed."""
    removed = []
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                text = _text(output.get("text", ""))
                if output.get("name") == "stderr":
                    removed.append(f"stderr {_start(text)}")
                    continue
                cleaned = _without_progress_and_warnings(text)
                if cleaned != text:
                    removed.append(f"stdout lines {_start(text)}")
                    if not cleaned.strip():
                        continue
                    output["text"] = cleaned
            elif WIDGET_MIME in output.get("data", {}):
                removed.append(f"widget {_start(output['data'].get('text/plain', ''))}")
                continue
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    return removed


def _start(text: str | list[str]) -> str:
    text = " ".join(_text(text).split())
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _text(text: str | list[str]) -> str:
    return text if isinstance(text, str) else "".join(text)


def _without_progress_and_warnings(text: str) -> str:
    kept, after_warning = [], False
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        if PROGRESS_TEXT.search(line):
            after_warning = False
        elif WARNING_TEXT.search(line):
            after_warning = True
        elif after_warning and line.startswith("  "):  # the warned line of source
            after_warning = False
        else:
            after_warning = False
            kept.append(line)
    return "".join(kept)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by the kernels started meanwhile), then restore."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _say(message: str) -> None:
    print(message, flush=True)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def glued_values(executed: Path) -> dict:
    """The values an executed notebook recorded with ``myst_nb.glue``, by name.

    Plain literals (numbers, strings, lists) come back as Python values, anything else as
    its text representation.
    """
    values = {}
    for cell in json.loads(Path(executed).read_text())["cells"]:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if not record:
                continue
            text = output["data"].get(record["mime_prefix"] + "text/plain", "")
            try:
                values[record["name"]] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[record["name"]] = text
    return values


README_BEGIN = "<!-- notebook parameters: begin (python -m mmrec_lib.report.runbook --readme) -->"
README_END = "<!-- notebook parameters: end -->"


def parameter_docs(notebooks: list[Path] | None = None) -> str:
    """Markdown tables of every notebook's parameters, defaults and help comments.

    The help text is the comment on the parameter's line, as ``papermill --help-notebook``
    shows it; README.md carries this text between README_BEGIN and README_END.
    """
    import papermill

    sections = []
    for notebook in notebooks if notebooks is not None else notebook_paths():
        rows = [
            f"| `{name}` | `{spec['default']}` | {spec['help']} |"
            for name, spec in papermill.inspect_notebook(str(notebook)).items()
        ]
        sections.append(
            f"#### `notebooks/{notebook.name}`\n\n| parameter | default | meaning |\n"
            "| --- | --- | --- |\n" + "\n".join(rows)
        )
    return "\n\n".join(sections)


def write_generated_pages(
    profile_name: str, output_dir: Path = GENERATED_DIR, executed_dir: Path = EXECUTED_DIR
) -> None:
    """The banner every page includes, the environment page of this build, and the claims
    scoreboard (from the values the notebooks in ``executed_dir`` glued).

    A page whose text is unchanged is not written again: every page includes the banner, so
    rewriting it would make Jupyter Book read every page again on a build with nothing new.
    """
    from mmrec_lib.report.claims import scoreboard_page

    profile = load_profile(profile_name)
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = [p for p in sorted(executed_dir.glob("*.ipynb")) if ".partial" not in p.suffixes]
    glued = {path.stem: glued_values(path) for path in executed}
    _write_if_changed(output_dir / "claims.md", scoreboard_page(glued))
    dataset = profile["common"].get("dataset", "?")
    kind = (
        "a **synthetic** stand-in, not the reproduction"
        if dataset == "synthetic"
        else ("real data")
    )
    _write_if_changed(
        output_dir / "banner.md",
        # a colon fence: a backtick fence's title may not contain backticks
        f":::{{admonition}} Built with profile `{profile_name}` on dataset `{dataset}`\n"
        f":class: {'warning' if dataset == 'synthetic' else 'note'}\n"
        f"The numbers on this page come from {kind}. {profile.get('description', '')}\n"
        ":::\n",
    )
    rows = "\n".join(f"| {key} | {value} |" for key, value in environment_facts(profile).items())
    _write_if_changed(
        output_dir / "environment.md",
        "# The environment of this build\n\n"
        "```{include} banner.md\n```\n\n"
        "| what | value |\n| --- | --- |\n" + rows + "\n",
    )


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def environment_facts(profile: dict) -> dict[str, str]:
    """Versions, machine and commit, for the environment page."""
    from importlib.metadata import PackageNotFoundError, version

    facts = {
        "profile": profile["name"],
        "dataset": str(profile["common"].get("dataset", "?")),
        "built at (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": _git("rev-parse", "--short", "HEAD") or "unknown",
        "uncommitted changes": "yes" if _git("status", "--porcelain") else "no",
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{_cpu_count()} cores, {platform.system()} {platform.release()}",
    }
    for package in (
        "torch",
        "torchvision",
        "transformers",
        "xgboost-cpu",
        "scikit-learn",
        "pandas",
        "numpy",
        "papermill",
        "jupyter-book",
    ):
        try:
            facts[package] = version(package)
        except PackageNotFoundError:
            facts[package] = "not installed"
    facts["accelerator"] = _accelerator()
    return facts


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _accelerator() -> str:
    try:
        import torch
    except ImportError:
        return "none (torch missing)"
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"


def _git(*args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="synthetic", help=f"one of {available_profiles()}")
    parser.add_argument("--force", action="store_true", help="run even unchanged notebooks")
    parser.add_argument(
        "--refresh-results",
        action="store_true",
        help="compute every run again and replace the profile's recorded results",
    )
    parser.add_argument(
        "--readme", action="store_true", help="print the README's notebook-parameter tables"
    )
    args = parser.parse_args(argv)
    if args.readme:
        print(parameter_docs())
        return
    load_profile(args.profile)  # a bad name fails before any work
    if args.refresh_results:
        from mmrec_lib.experiments.results import REFRESH_ENV

        os.environ[REFRESH_ENV] = "1"
    execute_notebooks(args.profile, force=args.force or args.refresh_results)
    write_generated_pages(args.profile)


if __name__ == "__main__":
    main()
