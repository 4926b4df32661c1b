"""Read any labelled audio folder (one folder per class, or a CSV of file, labels, group).

The decoding machinery here is shared with :func:`load_speech_commands`: a pool of
threads (libsndfile and soxr release the GIL) decodes files in chunks under one
tqdm progress bar, every clip goes straight into its row of one preallocated array
(no list of small arrays and no second float copy of the dataset), and clips that
had to be cropped or padded by more than a tolerance are reported in one warning.
"""

import csv as _csv
import numbers
import os
import re
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import soundfile as sf
from joblib import effective_n_jobs
from tqdm import tqdm

from .._compat import Interval, StrOptions, validate_params

#: File types :func:`load_audio_folder` reads (those libsndfile decodes).
AUDIO_FOLDER_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
#: What to do with a clip longer than the fixed length.
CROP_POLICIES = ("first", "loudest", "error")
_DTYPES = (np.float32, np.float64, np.int16)
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
_CHUNK = 64  # files per pool task: amortises the pool, keeps the progress bar live
_SHOWN = 10  # files named in one warning or error


#: Constraints shared by the loaders' simple arguments (paths, files and dtypes keep
#: their own checks, whose messages name the file or folder).
LOADER_CONSTRAINTS = {
    "path": [str, os.PathLike],
    "crop": [StrOptions(set(CROP_POLICIES))],
    "tolerance": [Interval(numbers.Real, 0, None, closed="both")],
    "n_jobs": [numbers.Integral, None],
    "on_error": [StrOptions({"raise", "warn"})],
    "progress": ["boolean", None],
}


class ClipLengthWarning(UserWarning):
    """Clips were cropped or zero-padded by more than the loader's tolerance."""


def _show(file):
    """A file name safe to print, even when it is not valid UTF-8 (undecodable bytes as \\x escapes)."""
    return os.fsdecode(file).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _name_some(items):
    items = list(items)
    return "; ".join(items[:_SHOWN]) + (f"; ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def check_dtype(dtype):
    """``dtype`` as a numpy dtype among float32, float64 and int16, or a ValueError."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"dtype must be one of 'float32', 'float64', 'int16', got {dtype!r}.") from err
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of 'float32', 'float64', 'int16', got {dtype!r}.")
    return dtype


def crop_start(clip, n_samples, crop, sample_rate):
    """Start of the ``n_samples`` window kept from a longer ``clip``.

    ``"first"`` keeps the start; ``"loudest"`` centres the window on the loudest
    second (the one-second span of highest energy, found with a cumulative sum),
    at that second's energy centroid.
    """
    if crop == "first" or len(clip) <= n_samples:
        return 0
    x = clip if clip.ndim == 1 else clip.mean(axis=1)
    energy = np.concatenate([[0.0], np.cumsum(np.square(x, dtype=np.float64))])
    span = max(1, min(int(sample_rate), n_samples, len(x)))
    first = int(np.argmax(energy[span:] - energy[:-span]))
    # Centre on the energy centroid of that second, so a short event in it lands mid-window.
    power = np.square(x[first : first + span], dtype=np.float64)
    total = power.sum()
    centre = first + (int(np.dot(np.arange(span), power) / total) if total > 0 else span // 2)
    return int(np.clip(centre - n_samples // 2, 0, len(x) - n_samples))


def _to_dtype(x, dtype):
    """Float audio in [-1, 1] (or int16 PCM) -> ``dtype``, scaling by 32768 between the two."""
    if x.dtype == dtype:
        return x
    if dtype == np.int16:
        return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)
    if x.dtype == np.int16:
        return x.astype(dtype) / dtype.type(32768)
    return x.astype(dtype)


def open_audio(file, sample_rate=None, *, mono_only=False):
    """Open ``file`` (any path, even a non-UTF-8 one) with soundfile; ValueError naming it when unusable."""
    try:
        handle = sf.SoundFile(os.fsencode(file))
    except (sf.SoundFileError, RuntimeError, OSError, TypeError) as err:
        raise ValueError(f"Cannot decode audio file {_show(file)}: {err}") from err
    problem = None
    if handle.frames == 0:
        problem = "no samples (a zero-length file)"
    elif sample_rate is not None and handle.samplerate != sample_rate:
        problem = (
            f"sample rate {handle.samplerate} Hz, expected {sample_rate} Hz "
            "(resample it first, e.g. with librosa.resample)"
        )
    elif mono_only and handle.channels != 1:
        problem = f"{handle.channels} channels (stereo), expected mono"
    if problem is not None:
        handle.close()
        raise ValueError(f"Audio file {_show(file)} has {problem}.")
    return handle


def read_audio(file, *, sample_rate=None, dtype=np.float32):
    """Decode a whole file to a mono 1-D array of ``dtype`` at ``sample_rate`` (None: its own rate).

    Returns the clip and the file's own sample rate. Several channels are averaged
    (downmix); another rate is resampled with soxr (high quality).
    """
    handle = open_audio(file)
    with handle:
        rate, channels = handle.samplerate, handle.channels
        resample = sample_rate is not None and rate != sample_rate
        # int16 output of an int16 file without resampling or downmix keeps the raw PCM.
        read_as = "int16" if dtype == np.int16 and not resample and channels == 1 else "float32"
        try:
            x = handle.read(dtype=read_as, always_2d=False)
        except (sf.SoundFileError, RuntimeError) as err:
            raise ValueError(f"Cannot decode audio file {_show(file)}: {err}") from err
        float_file = handle.subtype in _FLOAT_SUBTYPES
    if len(x) == 0:
        raise ValueError(f"Audio file {_show(file)} has no samples (a zero-length or truncated file).")
    if x.dtype.kind == "f" and float_file:
        if not np.all(np.isfinite(x)):
            raise ValueError(f"Audio file {_show(file)} contains NaN or infinite samples.")
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)
    if resample:
        import soxr  # a librosa dependency; imported here so reading at the file's rate needs none

        x = soxr.resample(x, rate, sample_rate)
    if x.dtype.kind == "f":
        np.clip(x, -1.0, 1.0, out=x)
    return _to_dtype(x, dtype), rate


def run_chunks(task, n_items, *, n_jobs, show, desc):
    """Run ``task(slice)`` over chunks of ``range(n_items)`` with a thread pool and one progress bar.

    ``task`` returns a list (of failures, say); the lists are joined. On an error the
    pending chunks are cancelled, so a bad file fails fast even in a 105k-file set.
    """
    chunks = [slice(start, min(start + _CHUNK, n_items)) for start in range(0, n_items, _CHUNK)]
    n_workers = max(1, min(effective_n_jobs(n_jobs), len(chunks)))
    out = []
    with tqdm(total=n_items, desc=desc, unit="clip", disable=not show) as bar:
        if n_workers == 1:
            for chunk in chunks:
                out += task(chunk)
                bar.update(chunk.stop - chunk.start)
            return out
        pool = ThreadPoolExecutor(max_workers=n_workers)
        try:
            futures = {pool.submit(task, chunk): chunk for chunk in chunks}
            for future in as_completed(futures):
                out += future.result()
                chunk = futures[future]
                bar.update(chunk.stop - chunk.start)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return out


def warn_lengths(files, lengths, n_samples, sample_rate, crop, tolerance, stacklevel=3):
    """One :class:`ClipLengthWarning` listing the clips cropped or padded by more than ``tolerance`` s."""
    lengths = np.asarray(lengths)
    limit = tolerance * sample_rate
    messages = []
    for name, mask, how in (
        ("Cropped", lengths - n_samples > limit, f"crop={crop!r}"),
        ("Zero-padded", n_samples - lengths > limit, "zeros at the end"),
    ):
        rows = np.flatnonzero(mask)
        if rows.size:
            listed = _name_some(f"{_show(files[r])} ({lengths[r] / sample_rate:.2f} s)" for r in rows)
            messages.append(f"{name} {rows.size} clip(s) to {n_samples / sample_rate:.2f} s ({how}): {listed}")
    if messages:
        warnings.warn(
            ". ".join(messages) + f". Tolerance {tolerance} s; pass crop='loudest' to keep the loudest "
            "second of long clips, or a longer duration.",
            ClipLengthWarning,
            stacklevel=stacklevel,
        )


def check_too_long(files, lengths, n_samples, sample_rate, tolerance):
    """crop='error': a ValueError naming the clips longer than the fixed length by more than ``tolerance``."""
    rows = np.flatnonzero(np.asarray(lengths) - n_samples > tolerance * sample_rate)
    if rows.size:
        listed = _name_some(f"{_show(files[r])} ({lengths[r] / sample_rate:.2f} s)" for r in rows)
        raise ValueError(
            f"{rows.size} clip(s) are longer than {n_samples / sample_rate:.2f} s (crop='error'): {listed}. "
            "Pass a longer duration, or crop='first' / crop='loudest'."
        )


def compact_rows(X, keep):
    """Drop the rows of ``X`` where ``keep`` is False, in place, without a second full-size array."""
    bad = np.flatnonzero(~keep)
    dst = bad[0]
    for index, start in enumerate(bad + 1):
        stop = bad[index + 1] if index + 1 < len(bad) else len(X)
        shift = start - dst  # rows dropped so far; moves of at most that many rows never overlap
        for offset in range(0, stop - start, shift):
            size = min(shift, stop - start - offset)
            X[dst + offset : dst + offset + size] = X[start + offset : start + offset + size]
        dst += stop - start
    X.resize((dst, X.shape[1]), refcheck=False)
    return X


# ----------------------------------------------------------------------------- scanning


def _scan_folders(root, extensions):
    """(files, labels, dangling symlinks) of a one-folder-per-class layout, in sorted order."""
    with os.scandir(root) as entries:
        folders = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    if not folders:
        raise ValueError(
            f"{_show(root)} holds no class folder; put each class's files in a sub-folder "
            "named after the class, or pass csv= listing file and label."
        )
    files, labels, dangling, empty = [], [], [], []
    for folder in folders:
        found = []
        with os.scandir(root / folder) as entries:
            for entry in entries:
                if os.path.splitext(entry.name)[1].lower() not in extensions or entry.name.startswith("."):
                    continue
                if entry.is_file():
                    found.append(entry.name)
                elif entry.is_symlink():
                    dangling.append(os.path.join(root, folder, entry.name))
        if not found:
            empty.append(folder)
        for name in sorted(found):
            files.append(os.path.join(root, folder, name))
            labels.append(folder)
    if empty:
        raise ValueError(
            f"Class folder(s) with no audio file ({', '.join(extensions)}) under {_show(root)}: "
            f"{_name_some(_show(f) for f in empty)}. Remove them or add audio."
        )
    return files, labels, dangling


def _split_labels(field):
    parts = tuple(p.strip() for p in field.split(",") if p.strip())
    return parts


def _scan_csv(root, csv_file):
    """(files, labels, groups or None) from a CSV: file, label(s) (comma-separated in one field), group."""
    csv_file = Path(csv_file)
    if not csv_file.is_file():
        raise ValueError(f"CSV file not found: {_show(csv_file)}.")
    with open(csv_file, newline="", encoding="utf-8") as handle:
        rows = [row for row in _csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if rows and rows[0][0].strip().lower() in ("file", "filename", "fname", "path", "file_name"):
        rows = rows[1:]
    if not rows:
        raise ValueError(f"CSV file {_show(csv_file)} lists no file.")
    short = [i for i, row in enumerate(rows) if len(row) < 2 or not _split_labels(row[1])]
    if short:
        raise ValueError(
            f"CSV file {_show(csv_file)}: row(s) {[i + 1 for i in short[:_SHOWN]]} lack a label; each row "
            "needs file, label(s) and optionally group."
        )
    files = [os.path.join(root, row[0].strip()) for row in rows]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise ValueError(
            f"CSV file {_show(csv_file)} names {len(missing)} missing file(s) (relative to {_show(root)}): "
            f"{_name_some(_show(f) for f in missing)}."
        )
    labels = [_split_labels(row[1]) for row in rows]
    groups = [row[2].strip() for row in rows] if all(len(row) >= 3 for row in rows) else None
    return files, labels, groups


def _apply_group_rule(rule, files, root):
    """Groups from a regex (searched in the file name; its first group, else the whole match) or callable."""
    names = [os.path.basename(f) for f in files]
    if callable(rule):
        groups = [rule(os.path.relpath(f, root)) for f in files]
        bad = [n for n, g in zip(names, groups) if g is None]
        if bad:
            raise ValueError(f"The group rule {rule!r} returned None for: {_name_some(_show(n) for n in bad)}.")
        return np.array(groups, dtype=object)
    if not isinstance(rule, str):
        raise ValueError(f"groups must be None, a regular expression or a callable, got {rule!r}.")
    try:
        pattern = re.compile(rule)
    except re.error as err:
        raise ValueError(f"groups='{rule}' is not a valid regular expression: {err}.") from err
    matches = [pattern.search(n) for n in names]
    bad = [n for n, m in zip(names, matches) if m is None]
    if bad:
        raise ValueError(
            f"The group rule '{rule}' matches no part of {len(bad)} file name(s): "
            f"{_name_some(_show(n) for n in bad)}."
        )
    return np.array([m.group(1) if pattern.groups else m.group(0) for m in matches], dtype=object)


# ----------------------------------------------------------------------------- the loader


@validate_params(
    {
        **LOADER_CONSTRAINTS,
        "csv": [str, os.PathLike, None],
        "sample_rate": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "duration": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "groups": [str, callable, None],
        "extensions": [list, tuple],
    },
    prefer_skip_nested_validation=True,
)
def load_audio_folder(
    path,
    *,
    csv=None,
    sample_rate=None,
    duration=None,
    crop="first",
    tolerance=0.1,
    groups=None,
    dtype="float32",
    extensions=AUDIO_FOLDER_EXTENSIONS,
    n_jobs=None,
    on_error="raise",
    progress=None,
):
    """Load a labelled audio folder as clips, labels and groups.

    Two layouts: one sub-folder per class (the folder name is the label), or a
    CSV listing ``file, label(s)[, group]`` (file relative to ``path``; several
    labels as one comma-separated field, quoted, for multi-label data; a header
    row starting with ``file``/``fname``/``path`` is skipped). Files are anything
    libsndfile decodes (wav, flac, ogg, mp3, aiff); several channels are
    averaged to mono and other sample rates are resampled with soxr.

    Parameters
    ----------
    path : str or path-like
        The dataset folder.
    csv : str or path-like, default=None
        A CSV of ``file, label(s)[, group]``; None reads the class folders.
    sample_rate : int, default=None
        Sample rate of the returned clips; files at other rates are resampled.
        None keeps the files' own rate, which must then be the same for all.
    duration : float, default=None
        Clip length in seconds: clips are cropped (see ``crop``) or zero-padded
        at the end to ``round(duration * sample_rate)`` samples and returned as
        one 2-D array. None returns a list of clips of their own lengths.
    crop : {"first", "loudest", "error"}, default="first"
        How a longer clip is cut to ``duration``: keep its start, centre the
        window on its loudest second, or raise a ValueError naming the clips
        longer than ``duration`` by more than ``tolerance``.
    tolerance : float, default=0.1
        Seconds of cropping or padding accepted silently; clips cut or padded by
        more are listed in one :class:`ClipLengthWarning`.
    groups : None, str or callable, default=None
        The group of each file, for grouped cross-validation. A regular
        expression is searched in the file name and gives its first group (or
        the whole match): ``r"^(\\d+)-"`` is ESC-50's fold prefix,
        ``r"^([^_]+)_"`` a speaker before the first underscore. A callable gets
        the path relative to ``path`` and returns the group. None takes the
        CSV's group column, else ``"<label folder>/<file name>"`` (each file
        its own group). A file the rule does not match is an error.
    dtype : {"float32", "float64", "int16"}, default="float32"
        Storage type of the clips; float audio is in [-1, 1], int16 is PCM and
        halves memory.
    extensions : tuple of str, default=AUDIO_FOLDER_EXTENSIONS
        File endings read from the class folders (case-insensitive).
    n_jobs : int, default=None
        Decoding threads; None means 1 unless in a :func:`joblib.parallel_config`
        context, -1 all processors.
    on_error : {"raise", "warn"}, default="raise"
        An unreadable, zero-length or (with ``sample_rate=None``) other-rate file,
        or a dangling symlink: raise a ValueError naming it, or skip it with one
        warning listing the skipped files.
    progress : bool, default=None
        Show a tqdm progress bar; None shows it when stderr is a terminal.

    Returns
    -------
    X : ndarray of shape (n_clips, n_samples), or list of n_clips ndarrays
        The clips: a 2-D array when ``duration`` is given, else a list of 1-D
        arrays of each file's length.
    y : ndarray of shape (n_clips,), dtype object
        The label (str) of each clip; for a multi-label CSV (a row with several
        labels) a tuple of labels per clip, ready for
        :class:`sklearn.preprocessing.MultiLabelBinarizer`.
    groups : ndarray of shape (n_clips,), dtype object
        The group of each clip (see ``groups``).

    Raises
    ------
    ValueError
        Naming the file, folder or rule: a missing folder or CSV, a class folder
        with no audio, a CSV naming missing files, an unreadable or zero-length
        file, mixed sample rates with ``sample_rate=None``, a group rule that
        matches no part of a file name, clips too long with ``crop="error"``.

    See Also
    --------
    load_speech_commands : The Speech Commands layout (labels, speakers, splits).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from sklkws.datasets import load_audio_folder
    >>> root = tempfile.mkdtemp()
    >>> for label in ["dog", "rain"]:
    ...     os.makedirs(os.path.join(root, label))
    ...     for fold in (1, 2):
    ...         sf.write(os.path.join(root, label, f"{fold}-{label}.wav"), np.zeros(22050), 44100)
    >>> X, y, groups = load_audio_folder(root, sample_rate=16000, duration=0.5, groups=r"^(\\d)-")
    >>> X.shape, list(y), list(groups)
    ((4, 8000), ['dog', 'dog', 'rain', 'rain'], ['1', '2', '1', '2'])
    """
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"Audio folder not found: {_show(root)}.")
    dtype = check_dtype(dtype)
    extensions = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)

    if csv is None:
        files, labels, dangling = _scan_folders(root, extensions)
        group_column = None
    else:
        files, labels, group_column = _scan_csv(root, csv)
        dangling = []
    failed = [(None, f"{_show(f)} is a dangling symbolic link") for f in dangling]
    if failed and on_error == "raise":
        raise ValueError(f"Dangling symbolic link(s), pointing at no file: {_name_some(m for _, m in failed)}.")
    if groups is not None:
        group_values = _apply_group_rule(groups, files, root)
    elif group_column is not None:
        group_values = np.array(group_column, dtype=object)
    else:
        group_values = np.array(
            [f"{os.path.basename(os.path.dirname(f))}/{os.path.basename(f)}" for f in files], dtype=object
        )
    multi = csv is not None and any(len(lab) > 1 for lab in labels)
    y = np.empty(len(files), dtype=object)
    y[:] = [lab if multi else (lab[0] if isinstance(lab, tuple) else lab) for lab in labels]

    rate = sample_rate
    if rate is None:  # the files' own rate: the first file's, which all must share
        with open_audio(files[0]) as handle:
            rate = handle.samplerate
    n_samples = None if duration is None else max(1, int(round(duration * rate)))
    X = [None] * len(files) if n_samples is None else np.zeros((len(files), n_samples), dtype=dtype)
    lengths = np.zeros(len(files), dtype=np.int64)
    raise_errors = on_error == "raise"

    def task(chunk):
        failures = []
        for row in range(chunk.start, chunk.stop):
            try:
                clip, own_rate = read_audio(files[row], sample_rate=sample_rate, dtype=dtype)
                if sample_rate is None and own_rate != rate:
                    raise ValueError(
                        f"Mixed sample rates: {_show(files[row])} is {own_rate} Hz, {_show(files[0])} is "
                        f"{rate} Hz; pass sample_rate= to resample them all to one rate."
                    )
                if raise_errors and crop == "error" and n_samples is not None:
                    check_too_long([files[row]], [len(clip)], n_samples, rate, tolerance)
            except ValueError as err:
                if raise_errors:
                    raise
                failures.append((row, str(err)))
                continue
            lengths[row] = len(clip)
            if n_samples is None:
                X[row] = clip
            else:
                start = crop_start(clip, n_samples, crop, rate)
                piece = clip[start : start + n_samples]
                X[row, : len(piece)] = piece
        return failures

    show = sys.stderr.isatty() if progress is None else bool(progress)
    failed += run_chunks(task, len(files), n_jobs=n_jobs, show=show, desc="Decoding audio")
    rows_failed = sorted(row for row, _ in failed if row is not None)
    if failed:
        warnings.warn(
            f"Skipped {len(failed)} unreadable audio file(s): " + _name_some(m for _, m in failed),
            UserWarning,
            stacklevel=2,
        )
    keep = np.ones(len(files), dtype=bool)
    keep[rows_failed] = False
    if n_samples is not None:
        warn_lengths([files[i] for i in np.flatnonzero(keep)], lengths[keep], n_samples, rate, crop, tolerance)
    if rows_failed:
        X = [x for x, k in zip(X, keep) if k] if n_samples is None else compact_rows(X, keep)
        y, group_values = y[keep], group_values[keep]
    if not len(y):
        raise ValueError(f"No audio file under {_show(root)} could be read.")
    return X, y, group_values
