"""The keyword spotter: a sliding window over a clip classifier, smoothed posteriors, events.

:class:`KeywordSpotter` runs a clip classifier (a :class:`~sklkws.export.CompactClassifier`
on the device, or any fitted pipeline with ``predict_proba``) over a file, an array or
a live stream of chunks, and emits :class:`Event` ``(time, keyword, score)`` tuples.
Numpy only (plus soundfile to read files): it runs on the device beside the
compact model.
"""

from collections import namedtuple
from pathlib import Path

import numpy as np

__all__ = ["Event", "KeywordSpotter", "listen_main"]

#: One detection: ``time`` in seconds from the stream start (the centre of the
#: detection), the ``keyword`` (a class label) and its smoothed posterior ``score``.
Event = namedtuple("Event", ["time", "keyword", "score"])

_NOT_KEYWORDS = ("_silence_", "_unknown_")


class KeywordSpotter:
    """Detect keywords in long audio with a sliding window over a clip classifier.

    Every ``hop`` seconds the classifier sees the last ``window`` seconds
    (windows predicted in batches). Each keyword's posterior is smoothed by a
    causal moving average over ``smoothing`` seconds. A detection is a run of
    consecutive windows whose best keyword is the same and whose smoothed score is
    at least ``threshold``; it becomes one event at the run's centre (corrected for
    the smoothing delay) with the run's peak score. An event less than
    ``refractory`` seconds after the previous one is dropped. Events are emitted
    when their run ends, so a live stream reports a keyword about ``window / 2``
    plus the smoothing span after it is said.

    Parameters
    ----------
    model : classifier or str or path-like
        Anything with ``predict_proba`` on raw clips ``(n, window_samples)`` and
        ``classes_``: a :class:`~sklkws.export.CompactClassifier`, a fitted sklkws
        pipeline, ... A path to a ``.tflite`` file loads a CompactClassifier.
    keywords : sequence of str, default=None
        The classes to detect; None means every class except ``"_silence_"`` and
        ``"_unknown_"``.
    hop : float, default=0.1
        Seconds between window starts.
    smoothing : float, default=0.3
        Span (seconds) of the posterior moving average; at most one hop means none.
    threshold : float, default=0.5
        Smallest smoothed posterior that counts as a detection.
    refractory : float, default=1.0
        Seconds after an event during which no other event is emitted.
    window : float, default=None
        Window length in seconds; None uses the model's clip length
        (``n_samples_`` or ``n_features_in_``).
    sample_rate : int, default=None
        None uses the model's (``sample_rate_``), else 16000.
    batch_size : int, default=64
        Windows per ``predict_proba`` call.

    Attributes
    ----------
    keywords_ : ndarray of str
        The detected classes (set on first use).
    window_samples_, hop_samples_, sample_rate_ : int

    Examples
    --------
    >>> spotter = KeywordSpotter("kws.tflite", hop=0.1, threshold=0.7)  # doctest: +SKIP
    >>> spotter.detect("recording.wav")  # doctest: +SKIP
    [Event(time=1.52, keyword='yes', score=0.94), Event(time=4.07, keyword='stop', score=0.88)]
    >>> for event in spotter.stream(microphone_chunks()):  # doctest: +SKIP
    ...     print(event)
    """

    def __init__(self, model, *, keywords=None, hop=0.1, smoothing=0.3, threshold=0.5, refractory=1.0, window=None,
                 sample_rate=None, batch_size=64):
        self.model = model
        self.keywords = keywords
        self.hop = hop
        self.smoothing = smoothing
        self.threshold = threshold
        self.refractory = refractory
        self.window = window
        self.sample_rate = sample_rate
        self.batch_size = batch_size

    # ------------------------------------------------------------------ setup

    def _setup(self):
        model = self.model
        if isinstance(model, (str, Path)):
            from ._compact import CompactClassifier

            model = CompactClassifier(model)
        for name in ("predict_proba", "classes_"):
            if not hasattr(model, name):
                raise ValueError(f"model must be a fitted classifier with predict_proba and classes_; "
                                 f"{type(model).__name__} has no {name}.")
        self.model_ = model
        rate = self.sample_rate or getattr(model, "sample_rate_", None) or 16000
        for name, value in (("hop", self.hop), ("refractory", self.refractory), ("smoothing", self.smoothing)):
            if not isinstance(value, (int, float)) or value < 0 or (name == "hop" and value == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'hop' else 'non-negative'} number "
                                 f"of seconds, got {value!r}.")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold!r}.")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}.")
        if self.window is None:
            n = getattr(model, "n_samples_", None) or getattr(model, "n_features_in_", None)
            if n is None:
                raise ValueError("The model does not tell its clip length; pass window= (seconds).")
            self.window_samples_ = int(n)
        else:
            self.window_samples_ = int(round(self.window * rate))
        self.sample_rate_ = int(rate)
        self.hop_samples_ = max(1, int(round(self.hop * rate)))
        classes = [str(c) for c in model.classes_]
        keywords = [c for c in classes if c not in _NOT_KEYWORDS] if self.keywords is None else list(self.keywords)
        missing = [k for k in keywords if k not in classes]
        if missing or not keywords:
            raise ValueError(f"keywords {missing or keywords} are not among the model's classes {classes}.")
        self.keywords_ = np.asarray(keywords)
        self._columns = np.array([classes.index(k) for k in keywords])
        self._k = max(1, int(round(self.smoothing / self.hop)))

    def reset(self):
        """Forget the stream: the next :meth:`process` starts at time 0.

        Returns
        -------
        self : KeywordSpotter
        """
        self._setup()
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # absolute sample index of _buffer[0]
        self._next_start = 0  # absolute sample index of the next window
        self._frames = 0  # windows classified so far
        self._history = np.zeros((0, len(self.keywords_)), dtype=np.float64)  # last k-1 raw posteriors
        self._run = None  # open detection: [keyword column, first frame, last frame, peak score]
        self._last_event = -np.inf
        return self

    # -------------------------------------------------------------- streaming

    def _check_chunk(self, chunk):
        chunk = np.asarray(chunk)
        if chunk.dtype == np.int16:
            chunk = chunk.astype(np.float32) / np.float32(32768.0)
        if chunk.ndim != 1:
            raise ValueError(f"Expected a 1-D mono chunk of samples, got shape {chunk.shape}; mix stereo down first.")
        chunk = chunk.astype(np.float32, copy=False)
        if not np.isfinite(chunk).all():
            raise ValueError("Audio contains NaN or infinity.")
        return chunk

    def _posteriors(self, starts):
        """Keyword posteriors of the windows starting at ``starts`` (absolute samples), in batches."""
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, self.window_samples_)
        rows = starts - self._buffer_start
        out = np.empty((len(starts), len(self.keywords_)), dtype=np.float64)
        for i in range(0, len(rows), int(self.batch_size)):
            batch = windows[rows[i:i + int(self.batch_size)]]
            out[i:i + len(batch)] = np.asarray(self.model_.predict_proba(batch))[:, self._columns]
        return out

    def _smooth(self, P):
        """Causal moving average over the last k windows, continuing across chunks."""
        full = np.vstack([self._history, P])
        cumsum = np.vstack([np.zeros((1, full.shape[1])), np.cumsum(full, axis=0)])
        idx = np.arange(len(self._history), len(full))
        lo = np.maximum(idx - self._k + 1, 0)  # fewer than k windows at the stream start
        smoothed = (cumsum[idx + 1] - cumsum[lo]) / (idx + 1 - lo)[:, None]
        self._history = full[-(self._k - 1):] if self._k > 1 else full[:0]
        return smoothed

    def _event(self, run):
        column, first, last, score = run
        centre = (first + last) / 2 - (self._k - 1) / 2  # the smoothed value at frame f is centred k-1/2 earlier
        time = (max(centre, 0.0) * self.hop_samples_ + self.window_samples_ / 2) / self.sample_rate_
        if time - self._last_event < self.refractory:
            return []
        self._last_event = time
        return [Event(round(float(time), 3), str(self.keywords_[column]), float(score))]

    def _runs(self, smoothed):
        """Close the detection runs that end within these frames; keep the last one open."""
        best = np.argmax(smoothed, axis=1)
        score = smoothed[np.arange(len(best)), best]
        label = np.where(score >= self.threshold, best, -1)
        frames = self._frames + np.arange(len(label))
        events = []
        # Boundaries where the active keyword changes: runs are few, so this loop is short.
        change = np.flatnonzero(np.diff(label)) + 1
        for segment in np.split(np.arange(len(label)), change):
            column = label[segment[0]]
            peak = float(score[segment].max())
            if self._run is not None and column == self._run[0] and frames[segment[0]] == self._run[2] + 1:
                self._run[2], self._run[3] = frames[segment[-1]], max(self._run[3], peak)
                continue
            if self._run is not None:
                events += self._event(self._run)
                self._run = None
            if column >= 0:
                self._run = [column, frames[segment[0]], frames[segment[-1]], peak]
        return events

    def process(self, chunk):
        """Feed samples; return the events completed so far.

        Parameters
        ----------
        chunk : array-like of shape (n_samples,)
            The next samples of the stream (float in [-1, 1], or int16 PCM), any length.

        Returns
        -------
        events : list of Event
        """
        if not hasattr(self, "_buffer"):
            self.reset()
        self._buffer = np.concatenate([self._buffer, self._check_chunk(chunk)])
        end = self._buffer_start + len(self._buffer)
        starts = np.arange(self._next_start, end - self.window_samples_ + 1, self.hop_samples_)
        if len(starts) == 0:
            return []
        P = self._posteriors(starts)
        events = self._runs(self._smooth(P))
        self._frames += len(starts)
        self._next_start = int(starts[-1] + self.hop_samples_)
        drop = self._next_start - self._buffer_start  # samples no later window needs
        self._buffer, self._buffer_start = self._buffer[drop:], self._buffer_start + drop
        return events

    def flush(self):
        """End of stream: classify the tail (zero padded) and close the open detection.

        Returns
        -------
        events : list of Event
        """
        if not hasattr(self, "_buffer"):
            self.reset()
        events = []
        end = self._buffer_start + len(self._buffer)
        if end > self._next_start - self.hop_samples_ + self.window_samples_ or self._frames == 0:
            pad = self._next_start + self.window_samples_ - end  # one more window covering the end
            events += self.process(np.zeros(max(0, pad), dtype=np.float32))
        if self._run is not None:
            events += self._event(self._run)
            self._run = None
        return events

    def stream(self, chunks):
        """Detect keywords in a live stream.

        Parameters
        ----------
        chunks : iterable of array-like of shape (n_samples,)
            Successive pieces of audio (e.g. from a microphone callback queue).

        Yields
        ------
        event : Event
            As soon as each detection is complete.
        """
        self.reset()
        for chunk in chunks:
            yield from self.process(chunk)
        yield from self.flush()

    def detect(self, audio):
        """All events of a recording.

        Parameters
        ----------
        audio : array-like of shape (n_samples,) or str or path-like
            Samples at the model's rate, or an audio file (read with soundfile;
            multi-channel files are mixed down; the rate must match the model's).

        Returns
        -------
        events : list of Event
        """
        if isinstance(audio, (str, Path)):
            audio = self._read(audio)
        self.reset()
        return self.process(audio) + self.flush()

    def _read(self, path):
        import soundfile

        self._setup()
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        if rate != self.sample_rate_:
            raise ValueError(f"{path} is sampled at {rate} Hz; the model expects {self.sample_rate_} Hz. "
                             "Resample it first (e.g. librosa.resample or sox).")
        return samples.mean(axis=1)


def listen_main(model, audio, *, hop=0.1, smoothing=0.3, threshold=0.5, refractory=1.0, keywords=None,
                num_threads=1, verbose=True):
    """Entry point of ``sklkws listen MODEL FILE.wav``: print the keywords found in a file.

    Parameters
    ----------
    model : str or path-like
        A ``.tflite`` file from ``sklkws export`` (loaded safely: no pickled code),
        or a joblib-saved pipeline (only your own or trusted files).
    audio : str or path-like
        The recording (any format soundfile reads, at the model's sample rate).
    hop, smoothing, threshold, refractory, keywords
        See :class:`KeywordSpotter`.
    num_threads : int, default=1
        Interpreter threads for a ``.tflite`` model.
    verbose : bool, default=True
        Print one line per event: time, keyword, score.

    Returns
    -------
    events : list of Event
    """
    if str(model).endswith(".tflite"):
        from ._compact import CompactClassifier

        classifier = CompactClassifier(model, num_threads=num_threads)
    else:
        import joblib

        classifier = joblib.load(model)
    spotter = KeywordSpotter(classifier, keywords=keywords, hop=hop, smoothing=smoothing, threshold=threshold,
                             refractory=refractory)
    events = spotter.detect(audio)
    if verbose:
        for event in events:
            print(f"{event.time:9.2f} s  {event.keyword:<12s} {event.score:.3f}")
        print(f"{len(events)} keyword(s) in {audio}")
    return events
