"""Read a Speech Commands folder from disk into ``(X, y, groups)``.

Two layouts are understood:

* the dataset's standard layout: one folder per word (``yes/``, ``bed/``, ...)
  holding ``<speaker>_nohash_<n>.wav`` files, the long recordings in
  ``_background_noise_/``, an optional ``_silence_/`` folder of one-second clips,
  and optionally ``validation_list.txt`` / ``testing_list.txt``;
* the canonical 12-class test set's layout: the ten command folders, ``_silence_/``
  and ``_unknown_/`` holding ``<word>_<speaker>_nohash_<n>.wav`` files.

Files are decoded with soundfile (wav or flac) by a pool of threads (libsndfile
releases the GIL) straight into one preallocated array, so loading the 105k-clip
dataset never holds a list of 105k small arrays.
"""

import numbers
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from sklearn.utils import check_random_state

from .._compat import HasMethods, Interval, StrOptions, validate_params
from ._folder import (
    LOADER_CONSTRAINTS,
    check_dtype as _check_dtype,
    _show,
    check_too_long,
    compact_rows as _compact_rows,
    crop_start,
    open_audio,
    run_chunks,
    warn_lengths,
)
from ._labels import BACKGROUND_NOISE, COMMAND_WORDS, SAMPLE_RATE, SILENCE, UNKNOWN

#: File types read from the word folders.
AUDIO_EXTENSIONS = (".wav", ".flac")
#: Samples in one clip: one second at 16 kHz.
CLIP_SAMPLES = SAMPLE_RATE
_HASH_DIVIDER = "_nohash_"
_LABEL_SETS = ("12class", "all")
_SPLIT_LISTS = {"validation": "validation_list.txt", "testing": "testing_list.txt"}
_SUBSETS = (None, "training", "validation", "testing")
_DTYPES = (np.float32, np.float64, np.int16)
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


def _open_checked(file, sample_rate):
    """Open ``file`` with soundfile; ValueError naming the file if unreadable, empty, wrong rate or not mono."""
    return open_audio(file, sample_rate, mono_only=True)


def _read_into(handle, out, file):
    """Decode at most ``len(out)`` frames into ``out``; the rest of ``out`` is left as is."""
    try:
        got = handle.read(frames=len(out), out=out)
    except (sf.SoundFileError, RuntimeError) as err:
        raise ValueError(f"Cannot decode audio file {file}: {err}") from err
    # Float files can hold values outside [-1, 1] or NaN; PCM files cannot.
    if handle.subtype in _FLOAT_SUBTYPES and out.dtype.kind == "f":
        if not np.all(np.isfinite(got)):
            raise ValueError(f"Audio file {file} contains NaN or infinite samples.")
        np.clip(got, -1.0, 1.0, out=got)
    return len(got)


@validate_params(
    {
        "file": [str, os.PathLike, HasMethods(["read"])],
        "sample_rate": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def read_clip(file, sample_rate=SAMPLE_RATE, *, n_samples=None, dtype="float32"):
    """Read one mono audio file, checking its sample rate and channel count.

    Parameters
    ----------
    file : str or path-like
        A wav or flac file (any format libsndfile reads).
    sample_rate : int, default=16000
        Required sample rate; files at another rate are rejected, not resampled.
    n_samples : int, default=None
        Pad with zeros or crop (keeping the start) to this many samples.
        None keeps the whole file.
    dtype : {"float32", "float64", "int16"}, default="float32"
        Float output is in [-1, 1]; int16 is the raw 16-bit PCM value.

    Returns
    -------
    clip : ndarray of shape (n_samples,)
        The audio.

    Raises
    ------
    ValueError
        Naming the file when it cannot be decoded, has another sample rate, or
        has more than one channel.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np, soundfile as sf
    >>> from sklkws.datasets._speech_commands import read_clip
    >>> path = os.path.join(tempfile.mkdtemp(), "beep.wav")
    >>> sf.write(path, np.full(8000, 0.5), 16000)
    >>> clip = read_clip(path, n_samples=16000)
    >>> clip.shape, clip[0], clip[-1]
    ((16000,), np.float32(0.5), np.float32(0.0))
    """
    dtype = _check_dtype(dtype)
    with _open_checked(file, sample_rate) as handle:
        if n_samples is None:
            n_samples = handle.frames
        out = np.zeros(n_samples, dtype=dtype)
        _read_into(handle, out, file)
    return out


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def load_background_noise(path, *, dtype="float32"):
    """Read the long background recordings of a Speech Commands folder.

    Parameters
    ----------
    path : str or path-like
        The dataset folder (holding ``_background_noise_/``) or the
        ``_background_noise_`` folder itself.
    dtype : {"float32", "float64", "int16"}, default="float32"
        Sample type of the returned recordings.

    Returns
    -------
    noise : dict of str to ndarray of shape (n_samples,)
        Recording name (file name without extension, e.g. ``"white_noise"``)
        to its mono 16 kHz samples, in name order.

    Raises
    ------
    ValueError
        When the folder is missing or holds no audio, or a recording is not
        mono 16 kHz (the message names the file).

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np, soundfile as sf
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "_background_noise_"))
    >>> sf.write(os.path.join(root, "_background_noise_", "hum.wav"), np.zeros(48000), 16000)
    >>> {name: rec.shape for name, rec in load_background_noise(root).items()}
    {'hum': (48000,)}
    """
    path = Path(path)
    folder = path if path.name == BACKGROUND_NOISE else path / BACKGROUND_NOISE
    if not folder.is_dir():
        raise ValueError(f"No {BACKGROUND_NOISE} folder found at {folder}.")
    files = _audio_files(folder)
    if not files:
        raise ValueError(f"The {BACKGROUND_NOISE} folder {folder} holds no wav or flac file.")
    return {os.path.splitext(name)[0]: read_clip(folder / name, dtype=dtype) for name in files}


@validate_params(
    {
        **LOADER_CONSTRAINTS,
        # str, not StrOptions: _map_labels's message tells how to ask for one word.
        "labels": [str, list, tuple],
        "n_silence": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "subset": [StrOptions({s for s in _SUBSETS if s}), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_speech_commands(
    path,
    *,
    labels="12class",
    n_silence=None,
    subset=None,
    dtype="float32",
    n_jobs=None,
    on_error="raise",
    progress=None,
    random_state=None,
    crop="first",
    tolerance=0.25,
):
    """Load a Speech Commands folder as one-second clips, labels and speakers.

    Parameters
    ----------
    path : str or path-like
        Folder in the dataset's standard layout (one sub-folder per word,
        ``_background_noise_/``, optional ``_silence_/``) or in the canonical
        12-class test set's layout (command folders, ``_silence_/`` and
        ``_unknown_/`` holding ``<word>_<speaker>_nohash_<n>.wav``). Files are
        wav or flac, 16 kHz mono.
    labels : {"12class", "all"} or list of str, default="12class"
        How folder words become labels:

        - ``"12class"``: the ten command words (yes no up down left right on
          off stop go) keep their name, every other word becomes
          ``"_unknown_"``, and clips of ``_silence_/`` are ``"_silence_"``.
        - ``"all"``: every word keeps its name (35 words plus ``"_silence_"``
          on v0.02); words in a canonical ``_unknown_/`` folder are read from
          the file-name prefix.
        - a list of words (e.g. a wake word): those words keep their name, all
          others become ``"_unknown_"``; ``"_silence_"`` clips stay
          ``"_silence_"``. Each word must occur in the folder.
    n_silence : int, default=None
        Number of extra ``"_silence_"`` clips cut at random offsets from random
        recordings of ``_background_noise_/`` (at their recorded level),
        appended after the files. Their group is the recording, e.g.
        ``"_background_noise_/white_noise"``, so grouped cross-validation keeps
        each recording on one side. None or 0 adds none; only the
        ``_silence_/`` folder's clips (if any) are then silence.
    subset : {None, "training", "validation", "testing"}, default=None
        The official split: clips listed in ``validation_list.txt`` or
        ``testing_list.txt`` (matched on ``folder/name`` without extension, so
        a flac copy matches the wav lists), training being every other clip,
        including those of ``_silence_/``. None loads everything. Clips cut
        with ``n_silence`` are added whatever the subset.
    dtype : {"float32", "float64", "int16"}, default="float32"
        Storage type of ``X``. Float audio is in [-1, 1]; ``"int16"`` keeps the
        raw 16-bit PCM values, halving memory: the full v0.02 set (105k clips)
        takes 3.4 GB as int16 against 6.8 GB as float32. The sklkws
        transformers read int16 as PCM (``x / 32768``).
    n_jobs : int, default=None
        Decoding threads. None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
    on_error : {"raise", "warn"}, default="raise"
        What an unreadable, wrong-rate or multi-channel file does: raise a
        ValueError naming it, or be skipped with one warning listing the
        skipped files.
    progress : bool, default=None
        Show a tqdm progress bar; None shows it when stderr is a terminal.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of recordings and offsets of the ``n_silence`` clips.
    crop : {"first", "loudest", "error"}, default="first"
        How a file longer than one second is cut: keep its first second, keep
        the second centred on its loudest second, or raise a ValueError naming
        the files longer by more than ``tolerance``.
    tolerance : float, default=0.25
        Seconds of cropping or zero-padding accepted silently; files cropped or
        padded by more are listed in one
        :class:`~sklkws.datasets.ClipLengthWarning` (a 3 s file cropped to its
        first second may have lost its word). The default lets pass the clips
        a little under one second that the dataset holds.

    Returns
    -------
    X : ndarray of shape (n_clips, 16000)
        The clips. Shorter files are zero-padded at the end; longer files are
        cropped following ``crop`` (a few v0.02 files run a few samples over
        one second).
    y : ndarray of shape (n_clips,), dtype object
        String labels.
    groups : ndarray of shape (n_clips,), dtype object
        The speaker: the file-name part before ``_nohash_`` (without the
        ``<word>_`` prefix in a canonical ``_unknown_/`` folder). Files without
        ``_nohash_`` (e.g. ``_silence_/1041.wav``) get their own group
        ``"_silence_/1041"``. Pass it to ``GroupKFold`` so that no speaker is on
        both sides of a split.

    Raises
    ------
    ValueError
        When the folder holds no clips, a label set or word is unknown (named),
        a split list is asked for but missing, ``n_silence`` clips are asked for
        without background recordings, or (``on_error="raise"``) a file is
        unreadable, not 16 kHz or not mono (named).

    See Also
    --------
    fetch_speech_commands : Download and extract the official archive.
    load_background_noise : The long background recordings, for noise augmentation.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np, soundfile as sf
    >>> from sklkws.datasets import load_speech_commands
    >>> root = tempfile.mkdtemp()
    >>> for word in ["yes", "bed"]:
    ...     os.makedirs(os.path.join(root, word))
    ...     sf.write(os.path.join(root, word, "0a1b2c3d_nohash_0.wav"), np.zeros(16000), 16000)
    >>> X, y, groups = load_speech_commands(root)
    >>> X.shape, list(y), list(groups)
    ((2, 16000), ['_unknown_', 'yes'], ['0a1b2c3d', '0a1b2c3d'])
    >>> load_speech_commands(root, labels="all")[1].tolist()
    ['bed', 'yes']
    """
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"Speech Commands folder not found: {root}.")
    dtype = _check_dtype(dtype)

    keys, files, words, groups, dangling = _scan(root)
    if dangling:
        listed = "; ".join(_show(f) for f in dangling[:10]) + (" ..." if len(dangling) > 10 else "")
        if on_error == "raise":
            raise ValueError(f"Dangling symbolic link(s), pointing at no file: {listed}.")
        warnings.warn(f"Skipped {len(dangling)} dangling symbolic link(s): {listed}", UserWarning, stacklevel=2)
    y = _map_labels(words, labels)
    keep = _subset_mask(root, keys, subset)
    files, y, groups = files[keep], y[keep], groups[keep]
    n_silence = n_silence or 0
    if len(files) + n_silence == 0:
        where = f" in the {subset} subset" if subset else ""
        raise ValueError(f"No wav or flac clips found{where} under {root}.")

    # Background recordings first: a missing folder should fail before minutes of decoding.
    noise = load_background_noise(root, dtype=dtype) if n_silence else None
    X = np.zeros((len(files) + n_silence, CLIP_SAMPLES), dtype=dtype)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    failed, lengths = _decode_all(X, files, n_jobs=n_jobs, on_error=on_error, show=show, crop=crop,
                                  tolerance=tolerance)
    good = np.ones(len(files), dtype=bool)
    good[[row for row, _ in failed]] = False
    warn_lengths(files[good], lengths[good], CLIP_SAMPLES, SAMPLE_RATE, crop, tolerance)

    if n_silence:
        sil_groups = _cut_silence(noise, X[len(files) :], check_random_state(random_state))
        y = np.concatenate([y, np.full(n_silence, SILENCE, dtype=object)])
        groups = np.concatenate([groups, sil_groups])

    if failed:
        warnings.warn(
            f"Skipped {len(failed)} unreadable audio file(s): "
            + "; ".join(message for _, message in sorted(failed)[:10])
            + (" ..." if len(failed) > 10 else ""),
            UserWarning,
            stacklevel=2,
        )
        mask = np.ones(len(X), dtype=bool)
        mask[[row for row, _ in failed]] = False
        X = _compact_rows(X, mask)
        y, groups = y[mask], groups[mask]
    return X, y, groups


def _audio_files(folder, dangling=None):
    """Sorted names of the wav/flac files directly in ``folder``; dangling symlinks go to ``dangling``."""
    names = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if os.path.splitext(entry.name)[1].lower() not in AUDIO_EXTENSIONS:
                continue
            if entry.is_file():
                names.append(entry.name)
            elif entry.is_symlink() and dangling is not None:
                dangling.append(os.path.join(folder, entry.name))
    return sorted(names)


def _parse_name(folder, stem):
    """The spoken word (None when not known) and the group of one file."""
    head, sep, _ = stem.partition(_HASH_DIVIDER)
    word = None if folder == UNKNOWN else folder
    if not sep:
        return word, f"{folder}/{stem}"
    if folder == UNKNOWN and "_" in head:
        # Canonical test set: _unknown_/<word>_<speaker>_nohash_<n>; words hold no underscore.
        word, head = head.split("_", 1)
    return word, head


def _scan(root):
    """List the clips under ``root``: split keys, paths, spoken words and groups, in sorted order."""
    keys, files, words, groups, dangling = [], [], [], [], []
    with os.scandir(root) as entries:
        folders = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    for folder in folders:
        if folder == BACKGROUND_NOISE:
            continue
        for name in _audio_files(root / folder, dangling):
            stem = os.path.splitext(name)[0]
            word, group = _parse_name(folder, stem)
            keys.append(f"{folder}/{stem}")
            files.append(os.path.join(root, folder, name))
            words.append(word)
            groups.append(group)
    return (*(np.array(values, dtype=object) for values in (keys, files, words, groups)), dangling)


def _map_labels(words, labels):
    """Turn spoken words into labels following the ``labels`` option."""
    present = set(words) - {None}
    if isinstance(labels, str):
        if labels not in _LABEL_SETS:
            raise ValueError(
                f"labels must be '12class', 'all' or a list of words, got {labels!r} "
                "(for one word pass a list, e.g. labels=['marvin'])."
            )
        vocabulary = set(COMMAND_WORDS) if labels == "12class" else present
    else:
        vocabulary = set(labels)
        if not vocabulary:
            raise ValueError("labels is an empty list; give at least one word.")
        missing = sorted(vocabulary - present - {SILENCE, UNKNOWN})
        if missing:
            raise ValueError(
                f"Word(s) {missing} not found in the dataset folder; available words: {sorted(present)}."
            )
    vocabulary.add(SILENCE)
    return np.array([w if w in vocabulary else UNKNOWN for w in words], dtype=object)


def _read_list(file):
    """``folder/stem`` keys of an official split list (extension dropped, so flac copies match)."""
    with open(file, encoding="utf-8") as handle:
        return {os.path.splitext(line.strip().replace("\\", "/"))[0] for line in handle if line.strip()}


def _subset_mask(root, keys, subset):
    if subset is None:
        return np.ones(len(keys), dtype=bool)
    listed = {}
    for name, list_file in _SPLIT_LISTS.items():
        if subset in (name, "training"):
            if not (root / list_file).is_file():
                raise ValueError(
                    f"subset={subset!r} needs {list_file}, which is missing from {root}; "
                    "use subset=None or split by speaker with GroupShuffleSplit."
                )
            chosen = _read_list(root / list_file)
            listed[name] = np.fromiter((k in chosen for k in keys), dtype=bool, count=len(keys))
    if subset == "training":
        return ~(listed["validation"] | listed["testing"])
    return listed[subset]


def _decode_one(handle, out, file, crop):
    """Decode one open file into ``out`` (cropped per ``crop``); return the file's length in samples."""
    frames = handle.frames
    if frames > len(out) and crop == "loudest":
        whole = np.zeros(frames, dtype=out.dtype)
        got = _read_into(handle, whole, file)
        start = crop_start(whole[:got], len(out), crop, SAMPLE_RATE)
        out[:] = whole[start : start + len(out)]
        return got
    got = _read_into(handle, out, file)
    # Only the first len(out) frames were decoded; the header's count gives the rest.
    return frames if frames > got else got


def _decode_all(X, files, *, n_jobs, on_error, show, crop="first", tolerance=np.inf):
    """Decode every file into its row of ``X`` with a pool of threads; return the failures and lengths."""
    raise_errors = on_error == "raise"
    lengths = np.full(len(files), X.shape[1], dtype=np.int64)

    def task(chunk):
        failed = []
        for row in range(chunk.start, chunk.stop):
            file = files[row]
            try:
                with _open_checked(file, SAMPLE_RATE) as handle:
                    if crop == "error":
                        check_too_long([file], [handle.frames], X.shape[1], SAMPLE_RATE, tolerance)
                    lengths[row] = _decode_one(handle, X[row], file, crop)
            except ValueError as err:
                if raise_errors:
                    raise
                X[row] = 0
                failed.append((row, str(err)))
        return failed

    failed = run_chunks(task, len(files), n_jobs=n_jobs, show=show, desc="Decoding clips")
    return failed, lengths


def _cut_silence(noise, out, rng):
    """Fill ``out`` with one-second windows of random recordings at random offsets; return their groups."""
    names = [name for name, rec in noise.items() if len(rec) >= out.shape[1]]
    if not names:
        raise ValueError(f"No {BACKGROUND_NOISE} recording is at least one second long; cannot cut silence.")
    which = rng.randint(len(names), size=len(out))
    room = np.array([len(noise[name]) - out.shape[1] + 1 for name in names])
    starts = (rng.random_sample(len(out)) * room[which]).astype(np.int64)
    for index, name in enumerate(names):
        rows = np.flatnonzero(which == index)
        windows = np.lib.stride_tricks.sliding_window_view(noise[name], out.shape[1])
        out[rows] = windows[starts[rows]]
    return np.array([f"{BACKGROUND_NOISE}/{names[i]}" for i in which], dtype=object)
