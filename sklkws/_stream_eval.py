"""Streams with ground truth, and the spotter's detection-error trade-off from one model pass.

:func:`make_keyword_stream` places keyword clips at known times in background noise
and/or running speech; :func:`load_negative_audio` reads keyword-free speech folders;
:func:`evaluate_spotter` runs the classifier once over all of it and sweeps the
threshold afterwards (false rejects, false alarms per hour, wrong keywords);
:func:`calibrate_spotter` picks the operating point that meets a false-alarm target
and :func:`store_operating_point` writes it into an exported model, where
:class:`~sklkws.streaming.KeywordSpotter` and ``sklkws listen`` find it.
"""

import json
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from .device._spotter import _NOT_KEYWORDS, KeywordSpotter, read_wav

__all__ = ["KeywordTruth", "StreamingResult", "calibrate_main", "calibrate_spotter", "evaluate_spotter",
           "load_negative_audio", "make_keyword_stream", "store_operating_point", "timeline_main"]

#: One keyword placed in a stream: the placed clip spans ``start`` to ``end`` seconds.
KeywordTruth = namedtuple("KeywordTruth", ["start", "end", "keyword"])

#: FA/h points at which :class:`StreamingResult` reports the interpolated FRR.
FA_POINTS = (0.5, 1.0, 2.0, 5.0)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def default_thresholds():
    """The default threshold sweep: 0.30-0.90 by 0.02, 0.91-0.99 by 0.01, 0.995-0.999 by 0.001."""
    # Finer at the top: at low false-alarm rates the DET moves fast with the threshold, and a
    # model trained without label smoothing puts most of its decisions above 0.99.
    return np.r_[np.round(np.arange(0.30, 0.901, 0.02), 2), np.round(np.arange(0.91, 0.991, 0.01), 2),
                 np.round(np.arange(0.995, 0.9991, 0.001), 3)]


def _as_list(audio, name):
    """One 1-D array or a sequence of them, as a list of finite float32 arrays."""
    if isinstance(audio, np.ndarray) and audio.ndim == 1:
        audio = [audio]
    arrays = [np.asarray(a, dtype=np.float32) for a in audio]
    for a in arrays:
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D mono arrays, got one of shape {a.shape}; mix stereo down first.")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinity.")
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        raise ValueError(f"{name} holds no samples.")
    return arrays


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def make_keyword_stream(X, y, *, keywords=None, n_keywords=None, gap=(1.0, 2.0), background=None,
                        background_db=-20.0, speech=None, speech_db=-6.0, sample_rate=16000, random_state=None):
    """A long stream of keyword clips at known times, between noise and/or running speech.

    The keyword clips (rows of ``X`` whose label is a keyword) are shuffled and laid
    end to end with a random gap before each (and after the last); ``background``
    runs under the whole stream and ``speech`` fills the gaps (never overlapping a
    keyword clip). Levels are in dB relative to the mean RMS of the placed clips.

    Parameters
    ----------
    X : array-like of shape (n_clips, n_samples)
        Clips at ``sample_rate``.
    y : array-like of shape (n_clips,)
        Their labels.
    keywords : sequence of str, default=None
        Labels to place; None means every label except ``"_silence_"`` and ``"_unknown_"``.
    n_keywords : int, default=None
        How many clips to place (drawn without replacement); None places all.
    gap : (float, float), default=(1.0, 2.0)
        Range of the uniform random gap (seconds) before each clip.
    background : ndarray of shape (n,) or sequence of them, default=None
        Noise under the whole stream (looped from a random offset).
    background_db : float, default=-20.0
        Background level relative to the clips (-20 dB: SNR 20 dB).
    speech : ndarray of shape (n,) or sequence of them, default=None
        Keyword-free speech that fills the gaps (consecutive stretches of it, looped).
    speech_db : float, default=-6.0
        Speech level relative to the clips.
    sample_rate : int, default=16000
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    audio : ndarray of shape (n_stream_samples,), float32
    truth : list of KeywordTruth
        ``(start, end, keyword)`` of each placed clip, in seconds, in time order.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((3, 16000), dtype=np.float32); X[:, 8000] = 0.5
    >>> audio, truth = make_keyword_stream(X, ["yes", "no", "_unknown_"], gap=(1.0, 1.0), random_state=0)
    >>> len(audio) / 16000, [t.keyword for t in truth]
    (5.0, ['no', 'yes'])
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(str)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be clips of shape (n_clips, n_samples) with one label each; got X {X.shape}, "
                         f"{len(y)} labels.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity.")
    lo, hi = (float(g) for g in gap)
    if not 0 <= lo <= hi:
        raise ValueError(f"gap must be (min, max) seconds with 0 <= min <= max, got {gap!r}.")
    rng = check_random_state(random_state)
    words = [w for w in np.unique(y) if w not in _NOT_KEYWORDS] if keywords is None else [str(k) for k in keywords]
    candidates = np.flatnonzero(np.isin(y, words))
    if len(candidates) == 0:
        raise ValueError(f"No clip is labelled with a keyword ({words}); labels present: {sorted(set(y))}.")
    n = len(candidates) if n_keywords is None else int(n_keywords)
    if not 1 <= n <= len(candidates):
        raise ValueError(f"n_keywords must be between 1 and {len(candidates)} (the keyword clips), got {n_keywords}.")
    chosen = rng.permutation(candidates)[:n]
    L = X.shape[1]
    gaps = np.round(rng.uniform(lo, hi, n + 1) * sample_rate).astype(int)
    starts = np.cumsum(gaps[:-1]) + np.arange(n) * L
    total = int(starts[-1] + L + gaps[-1])
    audio = np.zeros(total, dtype=np.float32)
    clips = X[chosen]
    audio[starts[:, None] + np.arange(L)] = clips  # clips never overlap: plain assignment
    level = np.mean(np.sqrt(np.mean(np.square(clips, dtype=np.float64), axis=1)))
    if background is not None:
        bed = np.concatenate(_as_list(background, "background"))
        idx = (rng.randint(len(bed)) + np.arange(total)) % len(bed)
        audio += (bed[idx] * (level * 10 ** (background_db / 20) / max(_rms(bed), 1e-12))).astype(np.float32)
    if speech is not None:
        talk = np.concatenate(_as_list(speech, "speech"))
        in_clip = np.zeros(total, dtype=bool)
        in_clip[(starts[:, None] + np.arange(L)).ravel()] = True
        gap_idx = np.flatnonzero(~in_clip)
        source = (rng.randint(len(talk)) + np.arange(len(gap_idx))) % len(talk)
        audio[gap_idx] += (talk[source] * (level * 10 ** (speech_db / 20) / max(_rms(talk), 1e-12))).astype(np.float32)
    truth = [KeywordTruth(round(float(s) / sample_rate, 4), round(float(s + L) / sample_rate, 4), str(w))
             for s, w in zip(starts, y[chosen])]
    return audio, truth


def _read_any(path):
    if path.suffix.lower() == ".wav":
        try:
            return read_wav(path)
        except ValueError:
            pass  # e.g. float WAV: soundfile reads it
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return samples.mean(axis=1), int(rate)


def load_negative_audio(path, *, sample_rate=16000, resample=False):
    """Read every audio file under a folder of keyword-free speech (or noise) as negatives.

    WAV files are read with the standard :mod:`wave` module, other formats
    (FLAC, OGG, ...) with soundfile. Multi-channel files are mixed down to mono.

    Parameters
    ----------
    path : str or path-like
        A folder (searched recursively) or one file.
    sample_rate : int, default=16000
        The rate the model expects.
    resample : bool, default=False
        Resample files at another rate (with librosa); otherwise such a file is an error.

    Returns
    -------
    audio : list of ndarray of shape (n_samples,), float32
        One array per file, in sorted path order (empty files skipped).

    Raises
    ------
    ValueError
        If the folder holds no audio, or a file has another sample rate and not ``resample``.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist.")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ValueError(f"{path} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
    out = []
    for file in files:  # one read per file: the I/O is the cost, not this loop
        samples, rate = _read_any(file)
        if rate != sample_rate:
            if not resample:
                raise ValueError(f"{file} is sampled at {rate} Hz, not {sample_rate} Hz; resample the folder or "
                                 "pass resample=True.")
            import librosa

            samples = librosa.resample(samples, orig_sr=rate, target_sr=sample_rate)
        if not np.isfinite(samples).all():
            raise ValueError(f"{file} contains NaN or infinity.")
        if len(samples):
            out.append(np.asarray(samples, dtype=np.float32))
    if not out:
        raise ValueError(f"Every audio file under {path} is empty.")
    return out


class StreamingResult:
    """The detection-error trade-off of a keyword spotter over positive streams and negative audio.

    Attributes (arrays have one entry per threshold)
    ------------------------------------------------
    thresholds : ndarray of shape (n_thresholds,)
    frr : ndarray
        False-reject rate: keywords with no correct event within the tolerance / keywords.
    fa_per_hour : ndarray
        False alarms per hour of negative audio.
    n_hits, n_misses, n_wrong, n_false_alarms, n_insertions : ndarray of int
        Keywords found; keywords missed; events of another keyword inside a keyword's
        span (wrong keyword); events in the negatives; events in the positive streams
        outside every keyword's span.
    n_keywords : int
    positive_hours, negative_hours : float
    rtf : float
        Real-time factor of the model pass: seconds of compute per second of audio.
    tolerance : float
    smoothing, refractory, hop : float
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def frr_at(self, fa_per_hour):
        """FRR at a false-alarm rate, interpolated on the DET curve's lower envelope.

        Parameters
        ----------
        fa_per_hour : float or array-like

        Returns
        -------
        frr : float or ndarray
            NaN where the rate is below every rate the sweep reached.
        """
        order = np.lexsort((self.frr, self.fa_per_hour))
        fa, frr = self.fa_per_hour[order], np.minimum.accumulate(self.frr[order])
        target = np.asarray(fa_per_hour, dtype=float)
        out = np.interp(target, fa, frr)
        out = np.where(target < fa[0], np.nan, out)
        return float(out) if out.ndim == 0 else out

    def table(self, thresholds=None):
        """The DET table as Markdown (all thresholds, or the sweep entries nearest to ``thresholds``)."""
        rows = range(len(self.thresholds)) if thresholds is None else sorted(
            {int(np.argmin(np.abs(self.thresholds - t))) for t in thresholds})
        lines = ["| threshold | FRR | FA/h | hits | misses | wrong keyword | false alarms | insertions |",
                 "|---|---|---|---|---|---|---|---|"]
        for i in rows:
            lines.append(f"| {self.thresholds[i]:.3f} | {100 * self.frr[i]:.1f} % | {self.fa_per_hour[i]:.2f} | "
                         f"{self.n_hits[i]} | {self.n_misses[i]} | {self.n_wrong[i]} | {self.n_false_alarms[i]} | "
                         f"{self.n_insertions[i]} |")
        return "\n".join(lines)

    def summary(self):
        """FRR at 0.5/1/2/5 FA/h, the amounts of audio and the RTF, as text.

        It also says what one false alarm weighs: with less than an hour of negatives
        one alarm is more than 1 FA/h, so the FRR at 1 FA/h is set by the single
        highest-scoring false alarm, and two runs can differ by many points there.
        """
        points = ", ".join(f"{fa:g} FA/h: " + ("not reached" if np.isnan(v) else f"{100 * v:.1f} %")
                           for fa, v in zip(FA_POINTS, np.atleast_1d(self.frr_at(FA_POINTS))))
        one = f" (one false alarm is {1.0 / self.negative_hours:.2f} FA/h)" if self.negative_hours > 0 else ""
        return (f"{self.n_keywords} keywords in {self.positive_hours:.3f} h of positive streams, "
                f"{self.negative_hours:.3f} h of negatives{one}; tolerance {self.tolerance:g} s; "
                f"RTF {self.rtf:.4f}\n"
                f"FRR at {points}")

    def __repr__(self):
        return f"StreamingResult({self.summary()})"


def _spotter(model_or_spotter):
    spotter = model_or_spotter if isinstance(model_or_spotter, KeywordSpotter) else KeywordSpotter(model_or_spotter)
    spotter._setup()
    return spotter


def _positives(positives):
    if isinstance(positives, tuple) and len(positives) == 2 and not isinstance(positives[0], tuple):
        positives = [positives]
    out = []
    for item in positives:
        audio, truth = item
        truth = [KeywordTruth(*t) for t in truth]
        out.append((np.asarray(audio, dtype=np.float32), truth))
    if not out or not any(t for _, t in out):
        raise ValueError("positives hold no keyword: pass (audio, truth) pairs from make_keyword_stream.")
    return out


def _negatives(negatives, spotter):
    if isinstance(negatives, (str, Path)):
        negatives = load_negative_audio(negatives, sample_rate=spotter.sample_rate_)
    return _as_list(negatives, "negatives")


def _pass(spotter, audios):
    """Window posteriors of every recording (the one model pass) and its wall time."""
    start = time.perf_counter()
    P = [spotter.window_posteriors(a) for a in audios]
    return P, time.perf_counter() - start


def _match(events, truth, tolerance):
    """(hits: bool per truth, wrong: int, insertions: int) for one stream's events."""
    if not truth:
        return np.zeros(0, bool), 0, len(events)
    if not events:
        return np.zeros(len(truth), bool), 0, 0
    t = np.array([e.time for e in events])[:, None]
    k = np.array([e.keyword for e in events])[:, None]
    start = np.array([x.start for x in truth]) - tolerance
    end = np.array([x.end for x in truth]) + tolerance
    inside = (t >= start) & (t <= end)
    correct = inside & (k == np.array([x.keyword for x in truth]))
    hits = correct.any(axis=0)
    wrong = int((inside.any(axis=1) & ~correct.any(axis=1)).sum())
    insertions = int((~inside.any(axis=1)).sum())
    return hits, wrong, insertions


def _sweep(spotter, pos_P, truths, neg_P, thresholds, tolerance, smoothing, refractory):
    rows = []
    for threshold in thresholds:
        hits = wrong = insertions = 0
        for P, truth in zip(pos_P, truths):
            events = spotter.events_from_posteriors(P, threshold=threshold, smoothing=smoothing, refractory=refractory)
            h, w, i = _match(events, truth, tolerance)
            hits, wrong, insertions = hits + int(h.sum()), wrong + w, insertions + i
        false_alarms = sum(len(spotter.events_from_posteriors(P, threshold=threshold, smoothing=smoothing,
                                                              refractory=refractory)) for P in neg_P)
        rows.append((hits, wrong, insertions, false_alarms))
    return np.array(rows, dtype=int).reshape(-1, 4)


def _result(spotter, rows, thresholds, n_keywords, pos_seconds, neg_seconds, seconds, tolerance, smoothing,
            refractory):
    hits, wrong, insertions, false_alarms = rows.T
    return StreamingResult(
        thresholds=np.asarray(thresholds, dtype=float), frr=1.0 - hits / max(n_keywords, 1),
        fa_per_hour=false_alarms / (neg_seconds / 3600.0), n_hits=hits, n_misses=n_keywords - hits, n_wrong=wrong,
        n_false_alarms=false_alarms, n_insertions=insertions, n_keywords=int(n_keywords),
        positive_hours=pos_seconds / 3600.0, negative_hours=neg_seconds / 3600.0,
        rtf=seconds / max(pos_seconds + neg_seconds, 1e-12), tolerance=float(tolerance),
        smoothing=float(spotter.smoothing_ if smoothing is None else smoothing),
        refractory=float(spotter.refractory_ if refractory is None else refractory), hop=float(spotter.hop_))


def _check_thresholds(thresholds):
    thresholds = default_thresholds() if thresholds is None else np.atleast_1d(np.asarray(thresholds, dtype=float))
    if thresholds.size == 0 or not ((thresholds >= 0) & (thresholds <= 1)).all():
        raise ValueError(f"thresholds must be a non-empty list of numbers in [0, 1], got {thresholds!r}.")
    return np.sort(thresholds)


def _check_tolerance(tolerance):
    if not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise ValueError(f"tolerance must be non-negative seconds, got {tolerance!r}.")


def evaluate_spotter(model_or_spotter, positives, negatives, *, thresholds=None, tolerance=0.25, smoothing=None,
                     refractory=None):
    """Misses, false alarms per hour and wrong keywords over a threshold sweep, from one model pass.

    The classifier runs once over every window of every recording
    (:meth:`KeywordSpotter.window_posteriors`); each threshold then only decodes
    those posteriors (:meth:`KeywordSpotter.events_from_posteriors`).

    A keyword is **hit** when an event of the same keyword lies between
    ``tolerance`` seconds before the placed clip's start and ``tolerance`` seconds
    after its end (a 1 s clip and the default 0.25 s: a 1.5 s span). An event of
    another keyword inside a keyword's span is a **wrong keyword**; an event in a
    positive stream outside every span is an **insertion**; every event in the
    negatives is a **false alarm** (FA/h counts these only).

    Parameters
    ----------
    model_or_spotter : KeywordSpotter or classifier or path
        A spotter (its hop, window, smoothing and refractory are used), or what
        :class:`KeywordSpotter` accepts as ``model``.
    positives : (audio, truth) or list of them
        Streams from :func:`make_keyword_stream`.
    negatives : ndarray or list of ndarray or path
        Keyword-free audio, or a folder for :func:`load_negative_audio`.
    thresholds : array-like of float, default=None
        None: :func:`default_thresholds`.
    tolerance : float, default=0.25
        Seconds either side of a keyword's clip within which its event counts.
    smoothing, refractory : float, default=None
        Override the spotter's.

    Returns
    -------
    result : StreamingResult

    Examples
    --------
    >>> audio, truth = make_keyword_stream(X_test, y_test, random_state=0)  # doctest: +SKIP
    >>> result = evaluate_spotter("kws.tflite", (audio, truth), "speech_negatives/")  # doctest: +SKIP
    >>> result.frr_at(1.0)  # FRR at one false alarm per hour  # doctest: +SKIP
    0.083
    >>> print(result.table([0.5, 0.9]))  # doctest: +SKIP
    """
    spotter = _spotter(model_or_spotter)
    thresholds = _check_thresholds(thresholds)
    _check_tolerance(tolerance)
    pos = _positives(positives)
    neg = _negatives(negatives, spotter)
    pos_P, t_pos = _pass(spotter, [a for a, _ in pos])
    neg_P, t_neg = _pass(spotter, neg)
    truths = [t for _, t in pos]
    rows = _sweep(spotter, pos_P, truths, neg_P, thresholds, tolerance, smoothing, refractory)
    rate = spotter.sample_rate_
    return _result(spotter, rows, thresholds, sum(map(len, truths)), sum(len(a) for a, _ in pos) / rate,
                   sum(map(len, neg)) / rate, t_pos + t_neg, tolerance, smoothing, refractory)


def calibrate_spotter(model_or_spotter, negatives, *, target_fa_per_hour=1.0, positives=None, thresholds=None,
                      smoothings=None, tolerance=0.25):
    """The operating point (threshold, smoothing) that meets a false-alarm target on given negatives.

    The model runs once; for each smoothing the lowest threshold whose FA/h on the
    negatives is at most the target is kept. With ``positives`` the smoothing
    with the lowest FRR at its threshold wins (ties: the lower FA/h); without,
    the first smoothing listed.

    Parameters
    ----------
    model_or_spotter : KeywordSpotter or classifier or path
    negatives : ndarray or list of ndarray or path
        Keyword-free audio (ideally not the audio the result is later judged on).
    target_fa_per_hour : float, default=1.0
    positives : (audio, truth) or list of them, default=None
        Streams to choose the smoothing by FRR.
    thresholds : array-like of float, default=None
        None: :func:`default_thresholds`.
    smoothings : sequence of float, default=None
        Smoothing spans (seconds) to try; None: only the spotter's.
    tolerance : float, default=0.25
        As in :func:`evaluate_spotter`.

    Returns
    -------
    point : dict
        ``threshold``, ``smoothing``, ``hop``, ``refractory``, ``target_fa_per_hour``,
        ``fa_per_hour`` (on these negatives), ``negative_hours`` and, with positives,
        ``frr``: ready for :func:`store_operating_point` or ``KeywordSpotter(**...)``.

    Raises
    ------
    ValueError
        If no threshold in the sweep meets the target (the message gives the lowest
        FA/h reached; add higher thresholds, more smoothing, or a better model).

    Examples
    --------
    >>> point = calibrate_spotter("kws.tflite", "speech_negatives/", target_fa_per_hour=1.0)  # doctest: +SKIP
    >>> store_operating_point("kws.tflite", point)  # doctest: +SKIP
    """
    spotter = _spotter(model_or_spotter)
    thresholds = _check_thresholds(thresholds)
    _check_tolerance(tolerance)
    if not isinstance(target_fa_per_hour, (int, float)) or target_fa_per_hour < 0:
        raise ValueError(f"target_fa_per_hour must be a non-negative number, got {target_fa_per_hour!r}.")
    smoothings = [spotter.smoothing_] if smoothings is None else [float(s) for s in smoothings]
    neg = _negatives(negatives, spotter)
    neg_P, _ = _pass(spotter, neg)
    neg_seconds = sum(map(len, neg)) / spotter.sample_rate_
    pos = _positives(positives) if positives is not None else []
    pos_P, _ = _pass(spotter, [a for a, _ in pos])
    truths = [t for _, t in pos]
    candidates, lowest = [], (np.inf, None, None)
    for smoothing in smoothings:
        rows = _sweep(spotter, pos_P, truths, neg_P, thresholds, tolerance, smoothing, None)
        fa = rows[:, 3] / (neg_seconds / 3600.0)
        best = int(np.argmin(fa))
        if fa[best] < lowest[0]:
            lowest = (fa[best], thresholds[best], smoothing)
        ok = np.flatnonzero(fa <= target_fa_per_hour)
        if len(ok):
            i = int(ok[0])
            frr = 1.0 - rows[i, 0] / max(sum(map(len, truths)), 1) if pos else None
            candidates.append((frr if frr is not None else 0.0, fa[i], float(thresholds[i]), smoothing, frr))
    if not candidates:
        raise ValueError(f"No threshold up to {thresholds[-1]:g} meets {target_fa_per_hour:g} false alarms per hour "
                         f"on these {neg_seconds / 3600:.3f} h of negatives: the lowest is {lowest[0]:.2f} FA/h "
                         f"(threshold {lowest[1]:g}, smoothing {lowest[2]:g} s). Try higher thresholds, more "
                         "smoothing, or a model trained with hard negatives.")
    order = 0 if pos else None
    chosen = min(candidates, key=lambda c: (c[0], c[1])) if order == 0 else candidates[0]
    point = {"threshold": chosen[2], "smoothing": chosen[3], "hop": float(spotter.hop_),
             "refractory": float(spotter.refractory_), "target_fa_per_hour": float(target_fa_per_hour),
             "fa_per_hour": float(chosen[1]), "negative_hours": round(neg_seconds / 3600.0, 4)}
    if pos:
        point["frr"] = float(chosen[4])
    return point


def store_operating_point(model_path, point):
    """Write an operating point into an exported ``.tflite`` model's metadata (and its JSON sidecar).

    :class:`~sklkws.streaming.KeywordSpotter` and ``sklkws listen`` then use it by
    default (``metadata_["operating_point"]``).

    Parameters
    ----------
    model_path : str or path-like
        A file written by :func:`sklkws.export.export_compact`.
    point : dict
        From :func:`calibrate_spotter` (at least ``threshold``).

    Returns
    -------
    metadata : dict
        The model's updated metadata.
    """
    from .device._compact import read_metadata, sidecar_path
    from .export._convert import embed_metadata

    point = dict(point)
    if "threshold" not in point:
        raise ValueError("point must hold at least a threshold (see calibrate_spotter).")
    KeywordSpotter._check_threshold(point["threshold"])
    path = Path(model_path)
    metadata = read_metadata(path)
    metadata["operating_point"] = {k: (float(v) if isinstance(v, (int, float, np.number)) else v)
                                   for k, v in point.items()}
    path.write_bytes(embed_metadata(path.read_bytes(), metadata, strip=False))
    sidecar_path(path).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return metadata


def _load_model(model, num_threads=1):
    from .device._compact import load_model

    return load_model(model, num_threads=num_threads)


def timeline_main(model, audio, path, *, num_threads=1, verbose=True, **spotter_params):
    """``sklkws listen MODEL FILE --plot PNG``: print the events of a file and draw its detection timeline.

    The model runs once; the events and the picture come from the same posteriors.

    Parameters
    ----------
    model : str or path-like
        ``.tflite`` file or joblib pipeline.
    audio : str or path-like
    path : str or path-like
        The PNG to write.
    num_threads : int, default=1
    verbose : bool, default=True
    **spotter_params
        :class:`KeywordSpotter` parameters (None values: the model's operating point).

    Returns
    -------
    events : list of Event
    """
    from .plotting import plot_detection_timeline

    spotter = KeywordSpotter(_load_model(model, num_threads), **spotter_params)
    samples = spotter._read(audio) if isinstance(audio, (str, Path)) else np.asarray(audio)
    P = spotter.window_posteriors(samples)
    events = spotter.events_from_posteriors(P)
    plot_detection_timeline(spotter, samples, posteriors=P, path=path, title=f"{Path(str(audio)).name}: detections")
    if verbose:
        for event in events:
            print(f"{event.time:9.2f} s  {event.keyword:<12s} {event.score:.3f}")
        print(f"{len(events)} keyword(s) in {audio}; timeline in {path}")
    return events


def calibrate_main(model, negatives, *, target_fa_per_hour=1.0, num_threads=1, verbose=True, **spotter_params):
    """``sklkws listen MODEL.tflite --calibrate NEGATIVES_DIR --target-fa 1``: store a calibrated threshold.

    Parameters
    ----------
    model : str or path-like
        A ``.tflite`` file from ``sklkws export`` (the operating point is written into it).
    negatives : str or path-like
        A folder of keyword-free audio.
    target_fa_per_hour : float, default=1.0
    num_threads : int, default=1
    verbose : bool, default=True
    **spotter_params
        :class:`KeywordSpotter` parameters (hop, smoothing, refractory) to calibrate at.

    Returns
    -------
    point : dict
    """
    if not str(model).endswith(".tflite"):
        raise ValueError(f"--calibrate stores the operating point in an exported .tflite model; {model} is not one "
                         "(export it first with sklkws export).")
    spotter = KeywordSpotter(_load_model(model, num_threads), **spotter_params)
    point = calibrate_spotter(spotter, negatives, target_fa_per_hour=target_fa_per_hour)
    store_operating_point(model, point)
    if verbose:
        print(f"threshold {point['threshold']:g} gives {point['fa_per_hour']:.2f} false alarms per hour on "
              f"{point['negative_hours']:.3f} h of {negatives} (target {target_fa_per_hour:g}); stored in {model}")
    return point
