"""The file registry and fetching: mirror, cache, download (from a local HTTP server only)."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import socket
import threading
import warnings
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mmrec_lib.data import download
from mmrec_lib.data.download import (
    Archive,
    ChecksumError,
    DataFile,
    DataNotFoundError,
    UnverifiedDataWarning,
    fetch,
)

REAL_FILES = dict(download.FILES)
REAL_ARCHIVES = dict(download.ARCHIVES)
RATINGS = b"userId,movieId,rating,timestamp\n1,10,4.0,100\n2,10,3.5,200\n"
TAGS = b"tagId,tag\n1,funny\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Server:
    """A directory served over HTTP on 127.0.0.1, counting the requests it answers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=root))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def put(self, name: str, data: bytes) -> str:
        (self.root / name).write_bytes(data)
        return f"{self.url}/{name}"


@pytest.fixture
def server(tmp_path: Path):
    root = tmp_path / "served"
    root.mkdir()
    served = Server(root)
    served.thread.start()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Own cache, no mirror, a private registry and fresh verdicts for every test."""
    monkeypatch.setenv("MMREC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MMREC_DATA_DIR", raising=False)
    monkeypatch.delenv("MMREC_OFFLINE", raising=False)
    monkeypatch.setattr(download, "ARCHIVES", {})
    monkeypatch.setattr(download, "FILES", {})
    monkeypatch.setattr(download, "_verified", set())
    monkeypatch.setattr(download, "_warned", set())


def register_zip(url: str, archive_hash: str | None, files: dict[str, str | None]) -> None:
    download.ARCHIVES["fake"] = Archive(url, archive_hash)
    for path, digest in files.items():
        download.FILES[path] = DataFile(digest, "fake", path)


def downloads() -> Path:
    return download.cache_dir("downloads")


def test_download_extracts_verifies_and_caches(server: Server) -> None:
    data = make_zip({"ml-fake/ratings.csv": RATINGS, "ml-fake/tags.csv": TAGS})
    url = server.put("ml-fake.zip", data)
    md5 = hashlib.md5(data).hexdigest()
    register_zip(url, f"md5:{md5}", {"ml-fake/ratings.csv": sha256(RATINGS)})

    path = fetch("ml-fake/ratings.csv")

    assert path == downloads() / "ml-fake" / "ratings.csv"
    assert path.read_bytes() == RATINGS
    assert (downloads() / "ml-fake.zip").read_bytes() == data
    assert not list(downloads().rglob("*.part"))
    assert fetch("ml-fake/ratings.csv") == path
    assert server.requests == ["/ml-fake.zip"]


def test_second_member_comes_from_the_cached_archive(server: Server) -> None:
    url = server.put("ml-fake.zip", make_zip({"ml-fake/ratings.csv": RATINGS, "a/t.csv": TAGS}))
    register_zip(url, None, {"ml-fake/ratings.csv": sha256(RATINGS)})
    download.FILES["tags.csv"] = DataFile(sha256(TAGS), "fake", "a/t.csv")

    fetch("ml-fake/ratings.csv")
    assert fetch("tags.csv").read_bytes() == TAGS
    assert fetch("tags.csv") == downloads() / "tags.csv"
    assert server.requests == ["/ml-fake.zip"]


def test_mirror_is_read_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "ml-fake").mkdir(parents=True)
    (mirror / "ml-fake" / "ratings.csv").write_bytes(RATINGS)
    monkeypatch.setenv("MMREC_DATA_DIR", str(mirror))
    register_zip("http://127.0.0.1:9/never.zip", None, {"ml-fake/ratings.csv": sha256(RATINGS)})

    assert fetch("ml-fake/ratings.csv") == mirror / "ml-fake" / "ratings.csv"
    assert not (downloads() / "ml-fake").exists()


def test_each_file_is_hashed_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mirror" / "ml-fake").mkdir(parents=True)
    (tmp_path / "mirror" / "ml-fake" / "ratings.csv").write_bytes(RATINGS)
    monkeypatch.setenv("MMREC_DATA_DIR", str(tmp_path / "mirror"))
    register_zip("http://127.0.0.1:9/never.zip", None, {"ml-fake/ratings.csv": sha256(RATINGS)})
    calls = []
    original = download.file_hash
    monkeypatch.setattr(download, "file_hash", lambda *a: calls.append(a) or original(*a))

    for _ in range(3):
        fetch("ml-fake/ratings.csv")
    assert len(calls) == 1


def test_mirror_checksum_mismatch_names_file_and_both_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = RATINGS.replace(b"4.0", b"5.0")
    (tmp_path / "mirror" / "ml-fake").mkdir(parents=True)
    (tmp_path / "mirror" / "ml-fake" / "ratings.csv").write_bytes(corrupt)
    monkeypatch.setenv("MMREC_DATA_DIR", str(tmp_path / "mirror"))
    register_zip("http://127.0.0.1:9/never.zip", None, {"ml-fake/ratings.csv": sha256(RATINGS)})

    with pytest.raises(ChecksumError) as error:
        fetch("ml-fake/ratings.csv")
    message = str(error.value)
    assert "ml-fake/ratings.csv" in message
    assert sha256(RATINGS) in message and sha256(corrupt) in message
    assert (error.value.expected, error.value.actual) == (sha256(RATINGS), sha256(corrupt))


def test_corrupted_member_is_rejected_and_removed(server: Server) -> None:
    corrupt = RATINGS[:-5]
    url = server.put("ml-fake.zip", make_zip({"ml-fake/ratings.csv": corrupt}))
    register_zip(url, None, {"ml-fake/ratings.csv": sha256(RATINGS)})

    with pytest.raises(ChecksumError, match=sha256(corrupt)) as error:
        fetch("ml-fake/ratings.csv")
    assert sha256(RATINGS) in str(error.value)
    assert not (downloads() / "ml-fake" / "ratings.csv").exists()
    # The archive had no hash of its own, so it is dropped too: a retry downloads afresh.
    assert not (downloads() / "ml-fake.zip").exists()
    server.put("ml-fake.zip", make_zip({"ml-fake/ratings.csv": RATINGS}))
    assert fetch("ml-fake/ratings.csv").read_bytes() == RATINGS
    assert len(server.requests) == 2


def test_corrupted_archive_is_rejected_before_extraction(server: Server) -> None:
    good = make_zip({"ml-fake/ratings.csv": RATINGS})
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    url = server.put("ml-fake.zip", bad)
    register_zip(
        url, f"md5:{hashlib.md5(good).hexdigest()}", {"ml-fake/ratings.csv": sha256(RATINGS)}
    )

    with pytest.raises(ChecksumError) as error:
        fetch("ml-fake/ratings.csv")
    message = str(error.value)
    assert url in message
    assert hashlib.md5(good).hexdigest() in message and hashlib.md5(bad).hexdigest() in message
    assert list(downloads().iterdir()) == []


def test_offline_error_names_file_url_and_three_fixes(closed_port_url: str) -> None:
    url = f"{closed_port_url}/ml-fake.zip"
    register_zip(url, None, {"ml-fake/ratings.csv": None})

    with pytest.raises(DataNotFoundError) as error:
        fetch("ml-fake/ratings.csv")
    message = str(error.value)
    assert "ml-fake/ratings.csv" in message
    assert f"go online, so that mmrec can download {url}" in message
    assert "MMREC_DATA_DIR" in message and "<mirror>/ml-fake/ratings.csv" in message
    assert 'load_dataset("synthetic")' in message
    assert isinstance(error.value, RuntimeError)
    assert list(downloads().iterdir()) == []


def test_offline_switch_never_downloads(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    url = server.put("ml-fake.zip", make_zip({"ml-fake/ratings.csv": RATINGS}))
    register_zip(url, None, {"ml-fake/ratings.csv": sha256(RATINGS)})
    monkeypatch.setenv("MMREC_OFFLINE", "1")

    with pytest.raises(DataNotFoundError, match="MMREC_OFFLINE=1"):
        fetch("ml-fake/ratings.csv")
    assert server.requests == []


def test_mirror_only_file_has_no_download_to_offer() -> None:
    download.FILES["side/only.csv"] = DataFile(sha256(TAGS))
    with pytest.raises(DataNotFoundError, match="no download is known") as error:
        fetch("side/only.csv")
    assert "go online" not in str(error.value)


def test_plain_file_download_without_hash_warns_once(server: Server) -> None:
    data = gzip.compress(b'{"a": 1}\n')
    download.ARCHIVES["gz"] = Archive(server.put("reviews.json.gz", data), None)
    download.FILES["shop/reviews.json.gz"] = DataFile(None, "gz")

    with pytest.warns(UnverifiedDataWarning, match="shop/reviews.json.gz") as record:
        path = fetch("shop/reviews.json.gz")
    assert len(record) == 1
    assert path == downloads() / "shop" / "reviews.json.gz"
    assert path.read_bytes() == data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fetch("shop/reviews.json.gz")


def test_unknown_file_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a registered data file"):
        fetch("ml-100k/nonsense")


def test_real_registry_is_consistent() -> None:
    assert all(entry.archive in REAL_ARCHIVES for entry in REAL_FILES.values() if entry.archive)
    hashes = {path: entry.sha256 for path, entry in REAL_FILES.items()}
    assert all(h is None or re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes.values())
    assert hashes["ml-20m/ratings.csv"] is None and hashes["ml-1m/ratings.dat"] is None
    assert all(archive.url.startswith("https://") for archive in REAL_ARCHIVES.values())
    assert (
        REAL_ARCHIVES["ml-100k"].url == "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    )


@pytest.mark.realdata
def test_registry_holds_every_hash_listed_for_the_mirror(real_data_dir: Path, monkeypatch) -> None:
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", (real_data_dir / "README.md").read_text(), re.M)
    assert len(listed) == 20
    assert {path: REAL_FILES[path].sha256 for _, path in listed} == {p: d for d, p in listed}
    monkeypatch.setattr(download, "FILES", REAL_FILES)
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    for _, path in listed:
        assert fetch(path) == real_data_dir / path


def test_check_posters_tells_each_cause_apart(tmp_path: Path) -> None:
    from PIL import Image

    good, swapped = tmp_path / "1.jpg", tmp_path / "2.jpg"
    Image.new("RGB", (40, 60), "red").save(good, format="JPEG")
    Image.new("RGB", (40, 60), "blue").save(swapped, format="JPEG")
    data = good.read_bytes()
    damaged = {"3.jpg": b"not an image", "4.jpg": b"", "5.jpg": data[: len(data) // 2]}
    for name, content in damaged.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "6.jpg").write_bytes(data)  # not in the listing
    listing = {name: sha256(data) for name in ("1.jpg", "2.jpg", *damaged)}
    paths = [str(tmp_path / f"{n}.jpg") for n in range(1, 8)] + [None]
    assert download.check_posters(paths, listing) == [
        "present",
        "checksum mismatch",
        "unreadable",
        "unreadable",
        "unreadable",
        "present",  # unverified, but it decodes
        "missing",
        "missing",
    ]
    # without published hashes (generated posters) only decoding counts
    assert download.check_posters(paths[:3], None) == ["present", "present", "unreadable"]


def test_screen_posters_leaves_bad_ones_out_and_warns_of_unlisted(tmp_path: Path) -> None:
    import pandas as pd
    from PIL import Image

    from mmrec_lib.data import DataRepairWarning

    good, bad, unlisted = (tmp_path / name for name in ("1.jpg", "2.jpg", "3.jpg"))
    Image.new("RGB", (40, 60), "red").save(good, format="JPEG")
    bad.write_bytes(b"")
    unlisted.write_bytes(good.read_bytes())
    items = pd.DataFrame({"poster_path": [str(good), str(bad), str(unlisted), None]})
    listing = {"1.jpg": sha256(good.read_bytes()), "2.jpg": sha256(b"x")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        screened, status = download.screen_posters(items, listing, "toy")
    messages = {w.category: str(w.message) for w in caught}
    assert (
        "toy: 1 posters are not used (1 unreadable), e.g. 2.jpg (unreadable)"
        in (messages[DataRepairWarning])
    )
    assert "1 posters have no published SHA-256" in messages[UnverifiedDataWarning]
    assert status.tolist() == ["present", "unreadable", "present", "missing"]
    assert screened["poster_path"].tolist() == [str(good), None, str(unlisted), None]
    assert items["poster_path"].iloc[1] == str(bad)  # the caller's table is not changed


@pytest.mark.realdata
def test_posters_are_checked_against_the_listing(
    real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "FILES", REAL_FILES)
    monkeypatch.setenv("MMREC_DATA_DIR", str(real_data_dir))
    posters = download.posters_dir()
    assert posters == real_data_dir / "ml-1m" / "posters"
    assert download.verify_poster(posters / "1.jpg") == posters / "1.jpg"

    mirror = tmp_path / "mirror"
    (mirror / "ml-1m" / "posters").mkdir(parents=True)
    (mirror / download.POSTER_SUMS).write_bytes((real_data_dir / download.POSTER_SUMS).read_bytes())
    swapped = mirror / "ml-1m" / "posters" / "1.jpg"
    swapped.write_bytes((posters / "2.jpg").read_bytes())
    monkeypatch.setenv("MMREC_DATA_DIR", str(mirror))
    with pytest.raises(ChecksumError, match="ml-1m/posters/1.jpg"):
        download.verify_poster(swapped)
