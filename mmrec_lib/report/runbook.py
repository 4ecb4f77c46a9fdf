"""Execute the book's notebooks with papermill under a profile, and write the build pages.

``python -m mmrec_lib.report.runbook --profile synthetic`` runs every notebook in ``notebooks/``
(found by glob) with the parameters the profile file ``profiles/<profile>.yml`` gives it,
into ``book/executed/``. A notebook whose source, parameters and library code are unchanged
since its last run is not run again. It also writes ``book/generated/``: the banner every
page shows (dataset and profile) and the environment page (versions, machine, commit).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from mmrec_lib.hashing import COMPUTING_PACKAGES

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
PROFILE_DIR = ROOT / "profiles"
EXECUTED_DIR = ROOT / "book" / "executed"
GENERATED_DIR = ROOT / "book" / "generated"
STAMP_KEY = "mmrec_run_stamp"


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
    """Run each notebook under the profile (skipping unchanged finished runs); return outputs."""
    import nbformat
    import papermill

    profile = load_profile(profile_name)
    library = library_digest() + recorded_results_digest(profile)
    output_dir.mkdir(parents=True, exist_ok=True)
    use_recorded_results(profile)
    outputs = []
    for notebook in notebooks if notebooks is not None else notebook_paths():
        parameters = {**notebook_parameters(profile, notebook), **(overrides or {})}
        stamp = run_stamp(notebook, parameters, library)
        output = output_dir / notebook.name
        if not force and _stamp_of(output) == stamp:
            print(f"[runbook] {notebook.name}: unchanged, reusing {output}")
        else:
            print(f"[runbook] {notebook.name}: executing with {parameters}")
            partial = output.with_suffix(".partial.ipynb")
            papermill.execute_notebook(
                notebook,
                partial,
                parameters=parameters,
                cwd=str(ROOT),
                kernel_name="python3",
                progress_bar=False,
            )
            executed = nbformat.read(partial, as_version=4)
            executed.metadata[STAMP_KEY] = stamp
            nbformat.write(executed, partial)
            partial.replace(output)
        outputs.append(output)
    return outputs


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
    scoreboard (from the values the notebooks in ``executed_dir`` glued)."""
    from mmrec_lib.report.claims import scoreboard_page

    profile = load_profile(profile_name)
    output_dir.mkdir(parents=True, exist_ok=True)
    glued = {path.stem: glued_values(path) for path in sorted(executed_dir.glob("*.ipynb"))}
    (output_dir / "claims.md").write_text(scoreboard_page(glued))
    dataset = profile["common"].get("dataset", "?")
    kind = (
        "a **synthetic** stand-in, not the reproduction"
        if dataset == "synthetic"
        else ("real data")
    )
    (output_dir / "banner.md").write_text(
        f"```{{admonition}} Built with profile `{profile_name}` on dataset `{dataset}`\n"
        f":class: {'warning' if dataset == 'synthetic' else 'note'}\n"
        f"The numbers on this page come from {kind}. {profile.get('description', '')}\n"
        "```\n"
    )
    rows = "\n".join(f"| {key} | {value} |" for key, value in environment_facts(profile).items())
    (output_dir / "environment.md").write_text(
        "# The environment of this build\n\n"
        "```{include} banner.md\n```\n\n"
        "| what | value |\n| --- | --- |\n" + rows + "\n"
    )


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
