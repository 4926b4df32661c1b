"""Download and unpack the official Speech Commands archives, once.

The download is :func:`pooch.retrieve`: streamed into a temporary file, checked
against the archive's SHA-256 and renamed only when it matches. Nothing half-done
is ever left under a final name: pooch works inside a hidden folder of this
process, the verified archive is moved out of it, and it unpacks into a hidden
temporary folder renamed only once fully extracted. So the extracted folder
existing means the data is complete, and a second call only looks at it. A
process killed outright (SIGKILL, power loss) cannot remove its temporary
folders; the next call removes those whose process is gone.
"""

import glob
import importlib.util
import logging
import os
import re
import shutil
import string
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

# Published by TensorFlow Datasets (url_checksums/speech_commands.txt) and by torchaudio
# (speechcommands.py, for v0.01).
_BASE_URL = "http://download.tensorflow.org/data/"
ARCHIVES = {
    "v0.01": {
        "file": "speech_commands_v0.01.tar.gz",
        "sha256": "743935421bb51cccdb6bdd152e04c5c70274e935c82119ad7faeec31780d811d",
    },
    "v0.02": {
        "file": "speech_commands_v0.02.tar.gz",
        "sha256": "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
    },
    "v0.02-test": {
        "file": "speech_commands_test_set_v0.02.tar.gz",
        "sha256": "cc2a00c1147c2254e9be3fa0f779d8c17421dc349b86366567a8edfa9acd51df",
    },
}
_BLOCK = 1 << 20
#: Age after which a temporary download without a process id in its name (from an
#: older sklkws) is taken as abandoned.
_STALE_SECONDS = 3600


def _part_prefix(name):
    """Prefix of this process's temporary files for ``name``: hidden, with the pid."""
    return f".{name}.{os.getpid()}."


def _process_alive(pid):
    """Whether process ``pid`` runs on this machine (signal 0 tests without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # it exists, under another user
        return True
    except (ProcessLookupError, OverflowError):
        return False
    return True


def _clean_stale_parts(home, names):
    """Remove the temporary downloads and extractions of ``names`` whose process is gone.

    Another process may be downloading into ``home`` at the same time: its parts carry
    its (living) pid and are kept.
    """
    for name in names:
        for part in home.glob(f".{glob.escape(name)}.*.part"):
            pid = part.name[len(name) + 2:].split(".", 1)[0]
            if pid.isdigit():
                stale = not _process_alive(int(pid))
            else:
                try:
                    stale = time.time() - part.stat().st_mtime > _STALE_SECONDS
                except FileNotFoundError:
                    continue
            if not stale:
                continue
            if part.is_dir():
                shutil.rmtree(part, ignore_errors=True)
            else:
                _remove(part)


def get_data_home(data_home=None):
    """The folder where sklkws keeps downloaded data, created if needed.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. None means the environment variable ``SKLKWS_DATA`` when
        set, else ``~/sklkws_data``.

    Returns
    -------
    data_home : pathlib.Path
        The folder, existing.

    Examples
    --------
    >>> import tempfile
    >>> get_data_home(tempfile.mkdtemp()).is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get("SKLKWS_DATA") or Path("~") / "sklkws_data"
    data_home = Path(data_home).expanduser()
    data_home.mkdir(parents=True, exist_ok=True)
    return data_home


def fetch_speech_commands(
    data_home=None,
    version="v0.02",
    *,
    url=None,
    checksum="official",
    keep_archive=False,
    progress=None,
    timeout=60.0,
):
    """Download and extract the Speech Commands dataset (Warden, 2018; CC BY 4.0).

    The archive is downloaded by :func:`pooch.retrieve` into a temporary file
    in ``data_home`` with a progress bar (when tqdm is installed), checked
    against its SHA-256, renamed only when complete, and extracted with
    :mod:`tarfile`'s ``"data"`` filter (no member may land
    outside the target folder, no links out, no device files). Later calls
    find the extracted folder and download nothing. An interrupted download,
    a network error or a checksum mismatch leaves no file behind.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where to keep the data; None means ``$SKLKWS_DATA`` or ``~/sklkws_data``.
    version : {"v0.02", "v0.01", "v0.02-test"}, default="v0.02"
        ``"v0.02"``: the full dataset (35 words, 105,829 clips, 2.4 GB download,
        3.8 GB extracted). ``"v0.01"``: the first release (30 words, 64,727
        clips, 1.5 GB). ``"v0.02-test"``: the canonical 12-class test set of
        v0.02 (113 MB), in the layout with ``_unknown_/`` and ``_silence_/``.
    url : str, default=None
        Download from this address instead of the official one (a mirror, or a
        ``file://`` URL of an archive already on disk).
    checksum : "official", str or None, default="official"
        ``"official"``: the published SHA-256 of ``version``'s archive (also
        applied to a mirror given as ``url``). A hex string: that SHA-256.
        None: no verification (only sensible for an archive you built yourself).
    keep_archive : bool, default=False
        Keep the verified archive in ``data_home`` after extraction; by default
        it is deleted to save space.
    progress : bool, default=None
        Show a tqdm progress bar (none when tqdm is not installed); None shows
        it when stderr is a terminal.
    timeout : float, default=60.0
        Seconds to wait for the server before giving up.

    Returns
    -------
    path : pathlib.Path
        The extracted folder, ``data_home / "speech_commands_<version>"``, in
        the dataset's standard layout; pass it to :func:`load_speech_commands`.
        Delete it to download again.

    Raises
    ------
    ValueError
        For an unknown ``version``.
    OSError
        When the download fails or is cut short, the checksum does not match,
        or the archive cannot be extracted safely; nothing partial is left.

    See Also
    --------
    load_speech_commands : Read the extracted folder as ``(X, y, groups)``.

    Examples
    --------
    >>> from sklkws.datasets import fetch_speech_commands, load_speech_commands
    >>> path = fetch_speech_commands()  # doctest: +SKIP
    >>> X, y, groups = load_speech_commands(path, subset="training", dtype="int16")  # doctest: +SKIP
    """
    if version not in ARCHIVES:
        raise ValueError(f"Unknown Speech Commands version {version!r}; choose one of {sorted(ARCHIVES)}.")
    spec = ARCHIVES[version]
    sha256 = spec["sha256"] if checksum == "official" else checksum
    if sha256 is not None and not (
        isinstance(sha256, str) and len(sha256) == 64 and set(sha256.lower()) <= set(string.hexdigits.lower())
    ):
        raise ValueError(
            f"checksum must be 'official', a 64-digit SHA-256 hex string or None, got {checksum!r}."
        )
    url = url or _BASE_URL + spec["file"]
    show = (sys.stderr.isatty() if progress is None else bool(progress)) and _has_tqdm()

    home = get_data_home(data_home)
    target = home / f"speech_commands_{version}"
    archive = home / spec["file"]
    _clean_stale_parts(home, [archive.name, target.name])
    if target.is_dir():
        return target
    if archive.is_file():
        # Only a verified download gets this name, but the user may have put it there.
        _verify(archive, sha256)
    else:
        _download(url, archive, sha256=sha256, show=show, timeout=timeout)
    _extract(archive, target)
    if not keep_archive:
        archive.unlink()
    return target


def _has_tqdm():
    """Whether tqdm, which pooch's progress bar needs, is installed."""
    return importlib.util.find_spec("tqdm") is not None


def _mismatch(source, detail):
    return OSError(
        f"Checksum mismatch for {source}: {detail} "
        "The file was deleted; try again, or check the url / checksum arguments."
    )


def _verify(archive, sha256):
    """Check an archive found in ``data_home`` (deleted when it does not match)."""
    if sha256 is None:
        return
    import pooch

    digest = pooch.file_hash(str(archive), alg="sha256")
    if digest != sha256.lower():
        archive.unlink()
        raise _mismatch(archive, f"SHA-256 {digest}, expected {sha256}.")


def _copy_local(url, output_file, pooch_):
    """A pooch downloader for ``file://`` URLs (an archive already on disk), which pooch has none for."""
    source = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
    try:
        with open(source, "rb") as src, open(output_file, "wb") as out:
            shutil.copyfileobj(src, out, _BLOCK)
    except OSError as err:
        raise OSError(f"Cannot read {url}: {err}") from err


@contextmanager
def _pooch_quiet(quiet):
    """Keep pooch's "Downloading data from ..." log line out of the output when no progress is shown."""
    import pooch

    # ``disabled``, not a level: pooch's logger has no manager to clear its level cache.
    logger = pooch.get_logger()
    disabled = logger.disabled
    logger.disabled = disabled or quiet
    try:
        yield
    finally:
        logger.disabled = disabled


def _download(url, dest, *, sha256, show, timeout):
    """Download ``url`` with :func:`pooch.retrieve` inside a hidden folder of this process, then rename to ``dest``.

    pooch writes and verifies a temporary file and renames it only if its hash
    matches; working in a folder named with the pid also lets a later call remove what
    a killed process left (:func:`_clean_stale_parts`).
    """
    import pooch
    import requests

    scratch = Path(tempfile.mkdtemp(dir=dest.parent, prefix=_part_prefix(dest.name), suffix=".part"))
    if urllib.parse.urlparse(url).scheme == "file":
        downloader = _copy_local
    else:
        downloader = pooch.HTTPDownloader(progressbar=show, timeout=timeout)
    try:
        with _pooch_quiet(not show):
            known = sha256 and sha256.lower()
            path = pooch.retrieve(url, known_hash=known, fname=dest.name, path=scratch, downloader=downloader)
        os.replace(path, dest)
    except ValueError as err:  # pooch: the hash of the download does not match
        got = re.search(r"got ([0-9a-f]{64})", str(err))
        if sha256 is None or got is None:
            raise OSError(f"Download of {url} failed: {err}") from err
        raise _mismatch(url, f"SHA-256 {got.group(1)}, expected {sha256}.") from err
    except requests.exceptions.RequestException as err:  # unreachable, HTTP error, connection cut short
        raise OSError(f"Download of {url} failed: {err}") from err
    finally:
        # Network errors, Ctrl-C, checksum mismatch: never leave a partial file.
        shutil.rmtree(scratch, ignore_errors=True)


def _extract(archive, target):
    """Unpack ``archive`` into a hidden temporary folder, then rename it to ``target``."""
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=_part_prefix(target.name), suffix=".part"))
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(scratch, filter="data")
        os.rename(scratch, target)
    except (tarfile.TarError, EOFError) as err:
        # A corrupt or unsafe archive is useless: drop it so the next call downloads afresh.
        shutil.rmtree(scratch, ignore_errors=True)
        _remove(archive)
        raise OSError(f"Cannot safely extract {archive} (deleted): {err}") from err
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not target.is_dir():
            raise
        # Another process finished the same extraction first: use its folder.
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _remove(file):
    try:
        os.unlink(file)
    except FileNotFoundError:
        pass
