"""The registry of upstream data files, and fetching them: mirror first, then cache, then download.

Every file is named by its path in the upstream layout (``"ml-100k/u.data"``). :func:`fetch`
looks for it in the local mirror (``MMREC_DATA_DIR``), then in ``cache_dir("downloads")``
(which holds extracted files in the same layout), and only then downloads the archive that
contains it with pooch and extracts the file. Each file is checked against its SHA-256 once per
process; where no hash is known (registry value None) a warning says it is used unverified.
``MMREC_OFFLINE=1`` switches downloads off (a missing file then fails at once).

Archive hashes: GroupLens publishes an MD5 next to each MovieLens zip (``<url>.md5``) but no
SHA-256, so archives are checked with those MD5s where known and the extracted members with the
SHA-256 of the files in the project's reference mirror.

Posters (``ml-1m/posters/<MovieID>.jpg``) come only from a mirror. Their folder is accepted after
one check of ``posters_SHA256SUMS.txt`` against the registry; every poster a dataset uses is then
checked against that listing once per load (:func:`screen_posters`; :func:`verify_poster` checks
one file and raises). A poster that differs from its published SHA-256, or cannot be decoded, is
not used: its ``poster_path`` becomes None, one warning counts and names them, and the dataset's
coverage report counts them apart from the missing ones.

Side information that cannot be found or read (e.g. ``ml-1m/tml1m_movies.csv``) is an error,
:class:`SideInfoError`, unless the caller leaves it out explicitly (``side_info=False``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from mmrec_lib.data.dataset import DataRepairWarning
from mmrec_lib.paths import DATA_DIR_ENV, cache_dir, mirror_dir

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
AMAZON_2018_URL = "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall"
# The rLLM project's TML1M archive (URL from rllm/datasets/sjtutables/tml1m.py); its movies.csv
# is assumed byte-identical to the mirror's tml1m_movies.csv, whose hash is pinned below.
TML1M_URL = "https://raw.githubusercontent.com/rllm-project/rllm_datasets/main/sjtutables/TML1M.zip"
# Best guess, unconfirmed and not used for downloads: a public folder of ML-1M posters named by
# MovieID (UIUC STAT 542 course data). Whether its images equal the mirror's is unknown.
POSTER_URL_GUESS = "https://liangfgithub.github.io/MovieImages/{movie_id}.jpg"

OFFLINE_ENV = "MMREC_OFFLINE"  # "1": never download; missing files raise DataNotFoundError
POSTERS_DIR = "ml-1m/posters"
POSTER_SUMS = "ml-1m/posters_SHA256SUMS.txt"
SYNTHETIC_HINT = 'load_dataset("synthetic")'
_BAD_POSTER = ("unreadable", "checksum mismatch")  # statuses of posters that are not used


class DataNotFoundError(RuntimeError):
    """A data file is in neither the mirror nor the cache, and could not be downloaded."""


class SideInfoError(DataNotFoundError):
    """A real dataset's side information (plots, cast, posters ...) cannot be found or read,
    and the caller did not leave it out (``side_info=False``). The cause is chained."""


class ChecksumError(ValueError):
    """A data file's hash differs from the registry's."""

    def __init__(self, file: str, expected: str, actual: str) -> None:
        super().__init__(
            f"checksum mismatch for {file}: expected {expected}, got {actual}. The file is "
            "corrupt, truncated or a different version; delete it (or fix the mirror) and retry."
        )
        self.file, self.expected, self.actual = file, expected, actual


class UnverifiedDataWarning(UserWarning):
    """A data file is used although no hash is known to check it against."""


@dataclass(frozen=True)
class Archive:
    """One upstream download. ``hash``: ``"md5:<hex>"`` or ``"<sha256 hex>"``, None if unknown."""

    url: str
    hash: str | None
    note: str = ""

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DataFile:
    """A file in upstream layout: its SHA-256 (None if unknown) and where a download finds it.

    archive: key into :data:`ARCHIVES`, None when no download is known (mirror only).
    member: its name inside a zip archive; None when the download is the file itself.
    """

    sha256: str | None
    archive: str | None = None
    member: str | None = None


ARCHIVES: dict[str, Archive] = {
    "ml-100k": Archive(f"{GROUPLENS_URL}/ml-100k.zip", "md5:0e33842e24a9c977be4e0107933c0723"),
    "ml-1m": Archive(f"{GROUPLENS_URL}/ml-1m.zip", "md5:c4d9eecfca2ab87c1945afe126590906"),
    "ml-20m": Archive(f"{GROUPLENS_URL}/ml-20m.zip", "md5:cd245b17a1ae2cc31bb14903e1204af3"),
    "ml-25m": Archive(f"{GROUPLENS_URL}/ml-25m.zip", "md5:6b51fb2759a8657d3bfcbfc42b592ada"),
    "ml-latest-small": Archive(f"{GROUPLENS_URL}/ml-latest-small.zip", None),
    "tml1m": Archive(TML1M_URL, None, note="URL from the rLLM project's loader, unconfirmed"),
    "amazon-fashion": Archive(f"{AMAZON_2018_URL}/AMAZON_FASHION_5.json.gz", None),
}


def _zip_members(archive: str, hashes: dict[str, str | None]) -> dict[str, DataFile]:
    """Registry entries for files stored in a zip under the same relative path."""
    return {
        f"{archive}/{name}": DataFile(sha, archive, f"{archive}/{name}")
        for name, sha in hashes.items()
    }


_ML_2XM_FILES = [
    "ratings.csv",
    "movies.csv",
    "links.csv",
    "tags.csv",
    "genome-scores.csv",
    "genome-tags.csv",
    "README.txt",
]

FILES: dict[str, DataFile] = {
    **_zip_members(
        "ml-100k",
        {
            "README": "d5f41f88d1a96b8faefed3c2f51fce1fca3be1ba6ab0d06e346898ffae920de9",
            "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
            "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
            "u.info": "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
            "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
            "u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
            "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
            "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
        },
    ),
    **_zip_members(
        "ml-1m",
        {
            "README": "2d5ddce86ccbd247207456165827b4b9ddf27282bca93807d4c763e28414f133",
            "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
            "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
            "ratings.dat": None,
        },
    ),
    **_zip_members(
        "ml-latest-small",
        {
            "README.txt": "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404",
            "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
            "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
            "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
            "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
        },
    ),
    **_zip_members("ml-20m", dict.fromkeys(_ML_2XM_FILES)),
    **_zip_members("ml-25m", dict.fromkeys(_ML_2XM_FILES)),
    "ml-1m/tml1m_movies.csv": DataFile(
        "6bf7f40234034cb32f676e7e1def455b2d0e18626c7dc2bba0dba9ef52f558d1", "tml1m", "movies.csv"
    ),
    POSTER_SUMS: DataFile("9444996922d8b61a332068b3b57dcb10775923f0ffb960ac3defb05c0192a80d"),
    # The mirror's copy is pretty-printed (not the upstream bytes); the download is the .gz.
    "amazon_fashion/AMAZON_FASHION_5.json": DataFile(
        "2c6099ce8d325cfc6d9cd6685c3aeffdb90b76586230a62798a4eaf64be849fc"
    ),
    "amazon_fashion/AMAZON_FASHION_5.json.gz": DataFile(None, "amazon-fashion"),
}

_verified: set[tuple[str, int, int, str]] = set()
_warned: set[str] = set()


def fetch(path: str) -> Path:
    """The local path of registered file ``path`` (upstream layout), checked against its hash.

    Looks in the mirror, then the download cache, then downloads and extracts it.
    Raises DataNotFoundError when all three fail, ChecksumError when a hash differs.
    """
    if path not in FILES:
        raise ValueError(f"{path!r} is not a registered data file; known: {sorted(FILES)}")
    expected = FILES[path].sha256
    for root in (mirror_dir(), cache_dir("downloads")):
        if root is not None and (root / path).is_file():
            return verify_file(root / path, expected, label=path)
    return _download(path)


def verify_file(file: Path, expected: str | None, label: str) -> Path:
    """Return ``file`` once its hash equals ``expected`` (``"md5:<hex>"`` or a SHA-256 hex).

    With ``expected`` None, warn once per label that the file is unverified. Verdicts are
    remembered per process (by path, size and modification time).
    """
    if expected is None:
        if label not in _warned:
            _warned.add(label)
            warnings.warn(
                f"no hash is known for {label}; using {file} unverified",
                UnverifiedDataWarning,
                stacklevel=2,
            )
        return file
    stat = file.stat()
    key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns, expected)
    if key not in _verified:
        algorithm, _, digest = expected.rpartition(":")
        actual = file_hash(file, algorithm or "sha256")
        if actual != digest.lower():
            prefix = f"{algorithm}:" if algorithm else ""
            raise ChecksumError(f"{label} ({file})", expected, prefix + actual)
        _verified.add(key)
    return file


def file_hash(file: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    with file.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def posters_dir() -> Path | None:
    """The mirror's ML-1M poster folder, or None when there is none.

    Checks ``posters_SHA256SUMS.txt`` against the registry once; each poster is checked by
    :func:`verify_poster` when it is read.
    """
    mirror = mirror_dir()
    if mirror is None or not (mirror / POSTERS_DIR).is_dir():
        return None
    poster_hashes()
    return mirror / POSTERS_DIR


def verify_poster(file: Path) -> Path:
    """Return a poster's path after checking it against ``posters_SHA256SUMS.txt``.

    Raises ChecksumError on a mismatch. Posters missing from the listing (or all of them,
    without the listing) are used unverified, with a warning.
    """
    hashes = poster_hashes()
    label = f"{POSTERS_DIR}/{file.name}" if hashes else f"{POSTERS_DIR} (no {POSTER_SUMS})"
    return verify_file(file, hashes.get(file.name), label=label)


def poster_hashes() -> dict[str, str]:
    """Poster file name -> SHA-256 from the checked listing; empty when there is no listing."""
    try:
        return _read_sums(fetch(POSTER_SUMS))
    except DataNotFoundError:
        return {}


def check_posters(paths: list, hashes: Mapping[str, str] | None) -> list[str]:
    """The status of each poster file, one of ``dataset.POSTER_STATUSES``.

    "missing": unset, or no such file. With ``hashes`` (file name -> published SHA-256), a
    listed file is "present" when its hash matches; otherwise it is "unreadable" when it
    cannot be decoded as an image, else "checksum mismatch". A file without a published hash
    (``hashes`` None: generated posters; or a name the listing lacks) is "present" when it
    decodes, else "unreadable". Matching hashes are remembered per process, like
    :func:`verify_file`'s.
    """
    statuses = []
    for path in paths:
        file = Path(path) if isinstance(path, (str, os.PathLike)) and str(path) else None
        if file is None or not file.is_file():
            statuses.append("missing")
            continue
        expected = None if hashes is None else hashes.get(file.name)
        if expected is not None and _hash_matches(file, expected):
            statuses.append("present")
        elif not image_decodes(file):
            statuses.append("unreadable")
        else:
            statuses.append("present" if expected is None else "checksum mismatch")
    return statuses


def _hash_matches(file: Path, expected: str) -> bool:
    try:
        verify_file(file, expected, label=str(file))
    except (ChecksumError, OSError):
        return False
    return True


def image_decodes(file: Path) -> bool:
    """Whether PIL can decode the whole image (not just its header)."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False  # not an image, zero bytes, truncated data, unreadable file
    return True


def screen_posters(
    items: pd.DataFrame,
    hashes: Mapping[str, str] | None,
    name: str,
    fix: str = "replace them from a good mirror to use them",
) -> tuple[pd.DataFrame, pd.Series]:
    """``items`` with only usable posters, and each item's poster status.

    Checks every ``poster_path`` with :func:`check_posters`; an unreadable or mismatching
    poster's path becomes None, with one :class:`DataRepairWarning` that counts them and names
    a few. Posters without a published hash (a name missing from a non-empty listing, or every
    poster when ``hashes`` is empty, i.e. the listing is absent) get one
    :class:`UnverifiedDataWarning`; ``hashes`` None (generated posters) warns of nothing.
    fix: how to get the left-out posters back, for the warning.
    """
    if "poster_path" not in items.columns:
        return items, pd.Series("missing", index=items.index, dtype=object, name="poster_status")
    paths = items["poster_path"].tolist()
    status = pd.Series(
        check_posters(paths, hashes), index=items.index, dtype=object, name="poster_status"
    )
    if hashes is not None:
        unlisted = [
            Path(p).name
            for p, s in zip(paths, status, strict=True)
            if s != "missing" and Path(p).name not in hashes
        ]
        if unlisted:
            listing = "its list" if hashes else f"{POSTER_SUMS} (not found)"
            warnings.warn(
                f"{name}: {len(unlisted):,} posters have no published SHA-256 in {listing} and "
                f"are used unverified (e.g. {', '.join(unlisted[:5])})",
                UnverifiedDataWarning,
                stacklevel=2,
            )
    bad = status.isin(_BAD_POSTER)
    if bad.any():
        items = items.copy()
        named = [
            f"{Path(p).name} ({s})" for p, s in zip(paths, status, strict=True) if s in _BAD_POSTER
        ]
        counts = status[bad].value_counts()
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        kept = [
            path if isinstance(path, (str, os.PathLike)) and str(path) and not drop else None
            for path, drop in zip(paths, bad, strict=True)
        ]
        items["poster_path"] = pd.Series(kept, index=items.index, dtype=object)
        warnings.warn(
            f"{name}: {int(bad.sum())} posters are not used ({summary}), e.g. "
            f"{', '.join(named[:5])}; these items load without a poster (poster_path None): "
            f"{fix}.",
            DataRepairWarning,
            stacklevel=2,
        )
    return items, status


@cache
def _read_sums(listing: Path) -> dict[str, str]:
    pairs = (line.split(maxsplit=1) for line in listing.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def _download(path: str) -> Path:
    """Download the archive holding ``path`` into the cache and return the checked file.

    On a checksum mismatch the extracted file, and an archive without a hash of its own, are
    deleted so that a retry downloads afresh.
    """
    entry = FILES[path]
    if entry.archive is None:
        raise DataNotFoundError(_not_found_message(path, reason="no download is known for it"))
    archive = ARCHIVES[entry.archive]
    downloads = cache_dir("downloads")
    archive_file = downloads / (path if entry.member is None else archive.filename)
    if not archive_file.is_file():
        if os.environ.get(OFFLINE_ENV) == "1":
            reason = f"downloads are switched off ({OFFLINE_ENV}=1)"
            raise DataNotFoundError(_not_found_message(path, reason))
        _fetch_url(archive, archive_file, path)
    file = archive_file if entry.member is None else _extract(archive_file, entry.member, path)
    try:
        return verify_file(file, entry.sha256, label=path)
    except ChecksumError:
        file.unlink()
        if archive.hash is None:
            archive_file.unlink(missing_ok=True)
        raise


def _fetch_url(archive: Archive, target: Path, path: str) -> None:
    """Download ``archive.url`` to ``target`` through pooch, checking the archive's own hash.

    The download goes to a partial file, moved into place only once complete and checked.
    """
    import pooch
    import requests

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        pooch.HTTPDownloader(progressbar=True)(archive.url, str(partial), None)
        if archive.hash is not None:
            verify_file(partial, archive.hash, label=archive.url)
    except requests.exceptions.RequestException as error:
        partial.unlink(missing_ok=True)
        reason = f"downloading {archive.url} failed ({type(error).__name__}: {error})"
        raise DataNotFoundError(_not_found_message(path, reason)) from error
    except ChecksumError:
        partial.unlink()
        raise
    partial.replace(target)


def _extract(archive_file: Path, member: str, path: str) -> Path:
    """Copy one member of a zip archive to ``path`` in the download cache."""
    target = cache_dir("downloads") / path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(archive_file) as archive:
        if member not in archive.namelist():
            raise DataNotFoundError(
                f"{archive_file} has no member {member!r} (needed for {path}); "
                "the upstream archive may have changed"
            )
        with archive.open(member) as source, partial.open("wb") as sink:
            shutil.copyfileobj(source, sink)
    return partial.replace(target)


def _not_found_message(path: str, reason: str) -> str:
    """What is missing, why, and the three ways to fix it."""
    entry = FILES[path]
    if entry.archive is None:
        online = "(no download is known for this file: only a mirror can provide it)"
    else:
        archive = ARCHIVES[entry.archive]
        note = f" ({archive.note})" if archive.note else ""
        online = f"go online, so that mmrec can download {archive.url}{note}"
    mirror = mirror_dir()
    return (
        f"data file {path} not found: it is not in the local mirror "
        f"({DATA_DIR_ENV}={mirror if mirror else 'unset'}) nor in the download cache "
        f"({cache_dir('downloads')}), and {reason}.\nFixes:\n"
        f"  1. {online};\n"
        f"  2. point {DATA_DIR_ENV} at a mirror in the upstream layout, holding <mirror>/{path};\n"
        f"  3. or work without real data: {SYNTHETIC_HINT}."
    )
