"""fetch_speech_commands against a local HTTP server serving a tiny archive built here."""

import hashlib
import io
import shutil
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from sklkws.datasets import fetch_speech_commands, load_speech_commands
from sklkws.datasets._fetch import ARCHIVES, get_data_home

SR = 16000


def _wav_bytes(seed):
    buffer = io.BytesIO()
    sf.write(buffer, np.random.default_rng(seed).uniform(-0.5, 0.5, SR), SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _tar(members):
    """A .tar.gz holding ``members`` (name -> bytes), named like the official archive's: ``./yes/...``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def archive():
    clips = ["yes/aaaa1111", "yes/bbbb2222", "no/aaaa1111", "bed/cccc3333"]
    members = {f"./{clip}_nohash_0.wav": _wav_bytes(seed) for seed, clip in enumerate(clips)}
    members["./_background_noise_/hum.wav"] = _wav_bytes(99)
    members["./validation_list.txt"] = b"yes/bbbb2222_nohash_0.wav\n"
    members["./testing_list.txt"] = b"bed/cccc3333_nohash_0.wav\n"
    return _tar(members)


@pytest.fixture(scope="module")
def server(archive):
    """Serves /good.tar.gz, /cut.tar.gz (connection dropped halfway), /evil.tar.gz (path traversal)."""
    payloads = {
        "/good.tar.gz": archive,
        "/evil.tar.gz": _tar({"./yes/a_nohash_0.wav": _wav_bytes(0), "../escaped.txt": b"gotcha"}),
    }
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path == "/cut.tar.gz":
                self.send_response(200)
                self.send_header("Content-Length", str(len(archive)))
                self.end_headers()
                self.wfile.write(archive[: len(archive) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            body = payloads.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits, hashlib.sha256(payloads["/evil.tar.gz"]).hexdigest()
    httpd.shutdown()
    httpd.server_close()


def _leftovers(home):
    return sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))


def test_download_extract_and_cache(server, archive, tmp_path):
    base, hits, _ = server
    sha = hashlib.sha256(archive).hexdigest()
    before = len(hits)
    path = fetch_speech_commands(tmp_path, url=f"{base}/good.tar.gz", checksum=sha, progress=False)
    assert path == tmp_path / "speech_commands_v0.02" and len(hits) == before + 1
    assert _leftovers(tmp_path)[0] == "speech_commands_v0.02"  # archive deleted, no hidden temporaries
    assert not any(name.startswith(".") or name.endswith(".tar.gz") for name in _leftovers(tmp_path))
    X, y, _ = load_speech_commands(path)
    assert X.shape == (4, SR) and y.tolist() == ["_unknown_", "no", "yes", "yes"]
    _, y_train, groups = load_speech_commands(path, subset="training")
    assert y_train.tolist() == ["no", "yes"] and groups.tolist() == ["aaaa1111", "aaaa1111"]
    # Second call: the extracted folder is the cache; nothing is downloaded.
    again = fetch_speech_commands(tmp_path, url=f"{base}/good.tar.gz", checksum=sha, progress=False)
    assert again == path and len(hits) == before + 1


def test_keep_archive_and_reuse_it(server, archive, tmp_path):
    base, hits, _ = server
    sha = hashlib.sha256(archive).hexdigest()
    path = fetch_speech_commands(tmp_path, url=f"{base}/good.tar.gz", checksum=sha, keep_archive=True)
    kept = tmp_path / ARCHIVES["v0.02"]["file"]
    assert kept.read_bytes() == archive
    # An archive already in data_home is verified and extracted without any request.
    before = len(hits)
    shutil.rmtree(path)
    assert fetch_speech_commands(tmp_path, url=f"{base}/missing", checksum=sha) == path
    assert len(hits) == before and (path / "yes").is_dir()


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    base, _, _ = server
    with pytest.raises(OSError, match="Checksum mismatch"):
        fetch_speech_commands(tmp_path, url=f"{base}/good.tar.gz", checksum="0" * 64)
    assert _leftovers(tmp_path) == []


def test_official_checksum_applies_to_mirrors(server, tmp_path):
    base, _, _ = server
    # The tiny archive is not the official one: its size and hash must both be rejected.
    with pytest.raises(OSError, match="official archive|Checksum"):
        fetch_speech_commands(tmp_path, url=f"{base}/good.tar.gz")
    assert _leftovers(tmp_path) == []


def test_interrupted_download_leaves_nothing(server, archive, tmp_path):
    base, _, _ = server
    # Depending on the Python version the cut shows as a short body or an IncompleteRead.
    with pytest.raises(OSError, match="cut short|IncompleteRead"):
        sha = hashlib.sha256(archive).hexdigest()
        fetch_speech_commands(tmp_path, url=f"{base}/cut.tar.gz", checksum=sha)
    assert _leftovers(tmp_path) == []


def test_http_error_leaves_nothing(server, tmp_path):
    base, _, _ = server
    with pytest.raises(OSError, match="404"):
        fetch_speech_commands(tmp_path, url=f"{base}/nothing.tar.gz", checksum=None)
    assert _leftovers(tmp_path) == []


def test_path_traversal_refused(server, tmp_path):
    base, _, evil_sha = server
    home = tmp_path / "home"
    with pytest.raises(OSError, match="safely"):
        fetch_speech_commands(home, url=f"{base}/evil.tar.gz", checksum=evil_sha)
    assert not (tmp_path / "escaped.txt").exists()
    assert _leftovers(home) == []


def test_data_home_and_arguments(monkeypatch, tmp_path):
    monkeypatch.setenv("SKLKWS_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == tmp_path / "from_env" and get_data_home().is_dir()
    monkeypatch.delenv("SKLKWS_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == tmp_path / "sklkws_data"
    with pytest.raises(ValueError, match="v0.03"):
        fetch_speech_commands(tmp_path, version="v0.03")
    with pytest.raises(ValueError, match="checksum"):
        fetch_speech_commands(tmp_path, checksum="abc")
    with pytest.raises(ValueError, match="checksum"):
        fetch_speech_commands(tmp_path, checksum="g" * 64)


def test_unreachable_server_leaves_nothing(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError, match=f"Download of http://127.0.0.1:{port}/a.tar.gz failed"):
        fetch_speech_commands(tmp_path, url=f"http://127.0.0.1:{port}/a.tar.gz", checksum=None, timeout=5)
    assert _leftovers(tmp_path) == []


def test_file_url_of_an_archive_on_disk(archive, tmp_path):
    local = tmp_path / "mirror" / "sc.tar.gz"
    local.parent.mkdir()
    local.write_bytes(archive)
    home = tmp_path / "home"
    path = fetch_speech_commands(home, url=local.as_uri(), checksum=hashlib.sha256(archive).hexdigest())
    assert (path / "yes").is_dir() and _leftovers(home)[0] == "speech_commands_v0.02"
    with pytest.raises(OSError, match="Cannot read"):
        fetch_speech_commands(tmp_path / "other", url=(tmp_path / "absent.tar.gz").as_uri(), checksum=None)
    assert _leftovers(tmp_path / "other") == []


def test_what_a_killed_download_left_is_removed(server, archive, tmp_path):
    # A process killed outright leaves its hidden folder (pid in the name); a living one's is kept.
    import os

    base, _, _ = server
    name = ARCHIVES["v0.02"]["file"]
    dead = tmp_path / f".{name}.999999999.abc.part"
    dead.mkdir()
    (dead / name).write_bytes(b"half")
    alive = tmp_path / f".{name}.{os.getppid()}.abc.part"
    alive.mkdir()
    fetch_speech_commands(tmp_path, url=f"{base}/good.tar.gz", checksum=hashlib.sha256(archive).hexdigest())
    assert not dead.exists() and alive.is_dir()


def test_progress_without_tqdm(server, archive, tmp_path, monkeypatch):
    # pooch's progress bar needs tqdm (pooch refuses progressbar=True without it): where tqdm
    # cannot be imported the download runs without a bar.
    import sys

    base, _, _ = server
    monkeypatch.setitem(sys.modules, "tqdm", None)  # "import tqdm" now fails
    sha = hashlib.sha256(archive).hexdigest()
    path = fetch_speech_commands(tmp_path, url=f"{base}/good.tar.gz", checksum=sha, progress=True)
    assert (path / "yes").is_dir()
