"""The keyword spotter: a sliding window over a clip classifier, smoothed posteriors, events.

:class:`KeywordSpotter` runs a clip classifier (a :class:`~sklkws.export.CompactClassifier`
on the device, or any fitted pipeline with ``predict_proba``) over a file, an array or
a live stream of chunks, and emits :class:`Event` ``(time, keyword, score)`` tuples.
Numpy and the standard library only (WAV files are read with :mod:`wave`; other formats
need soundfile): it runs on the device beside the compact model.

The work is split in two so that a threshold sweep needs one model pass:
:meth:`KeywordSpotter.window_posteriors` runs the classifier over every window once, and
:meth:`KeywordSpotter.events_from_posteriors` smooths and decodes those posteriors for
any threshold, smoothing or refractory time.
"""

import wave
from collections import namedtuple
from pathlib import Path

import numpy as np

from ._audio import to_float_audio

__all__ = ["Event", "KeywordSpotter", "microphone_chunks", "read_wav"]

#: One detection: ``time`` in seconds from the stream start (the centre of the
#: detection), the ``keyword`` (a class label) and its smoothed posterior ``score``.
Event = namedtuple("Event", ["time", "keyword", "score"])

_NOT_KEYWORDS = ("_silence_", "_unknown_")


def read_wav(path):
    """Read a PCM WAV file with the standard :mod:`wave` module, mixed down to mono.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    samples : ndarray of shape (n_samples,), float32 in [-1, 1]
    sample_rate : int

    Raises
    ------
    ValueError
        If the file is not a PCM WAV file the standard library can read (e.g. float WAV:
        read it with soundfile instead).
    """
    try:
        with wave.open(str(path), "rb") as f:
            n_channels, width, rate, n_frames = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
            data = f.readframes(n_frames)
    except (wave.Error, EOFError) as error:
        raise ValueError(f"{path} is not a PCM WAV file the wave module reads ({error}); convert it, or install "
                         "soundfile to read other formats.") from None
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:  # 24-bit: widen each little-endian sample to int32
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)
        x = (raw[:, 0].astype(np.int32) | (raw[:, 1].astype(np.int32) << 8)
             | (raw[:, 2].astype(np.int8).astype(np.int32) << 16))  # the top byte carries the sign
        x = x.astype(np.float32) / np.float32(2 ** 23)
    elif width in (2, 4):
        x = np.frombuffer(data, dtype=f"<i{width}").astype(np.float32) / np.float32(2 ** (8 * width - 1))
    else:
        raise ValueError(f"{path}: {8 * width}-bit samples are not supported.")
    return x.reshape(-1, n_channels).mean(axis=1, dtype=np.float32), int(rate)


class _Decoder:
    """Smoothing and event decoding of window posteriors, with the state carried across chunks."""

    def __init__(self, keywords, k, threshold, refractory, hop_samples, window_samples, sample_rate):
        self.keywords, self.k, self.threshold, self.refractory = keywords, k, threshold, refractory
        self.hop_samples, self.window_samples, self.sample_rate = hop_samples, window_samples, sample_rate
        self.frames = 0  # windows decoded so far
        self.history = np.zeros((0, len(keywords)), dtype=np.float64)  # last k-1 raw posteriors
        self.run = None  # open detection: [keyword column, first frame, last frame, peak score]
        self.last_event = -np.inf

    def smooth(self, P):
        """Causal moving average over the last k windows, continuing across chunks."""
        full = np.vstack([self.history, P])
        cumsum = np.vstack([np.zeros((1, full.shape[1])), np.cumsum(full, axis=0)])
        idx = np.arange(len(self.history), len(full))
        lo = np.maximum(idx - self.k + 1, 0)  # fewer than k windows at the stream start
        smoothed = (cumsum[idx + 1] - cumsum[lo]) / (idx + 1 - lo)[:, None]
        self.history = full[-(self.k - 1):] if self.k > 1 else full[:0]
        return smoothed

    def event(self, run):
        column, first, last, score = run
        centre = (first + last) / 2 - (self.k - 1) / 2  # the smoothed value at frame f is centred k-1/2 earlier
        time = (max(centre, 0.0) * self.hop_samples + self.window_samples / 2) / self.sample_rate
        if time - self.last_event < self.refractory:
            return []
        self.last_event = time
        return [Event(round(float(time), 3), str(self.keywords[column]), float(score))]

    def feed(self, P):
        """Smooth these windows' posteriors, close the runs that end here, keep the last one open."""
        smoothed = self.smooth(np.asarray(P, dtype=np.float64))
        best = np.argmax(smoothed, axis=1)
        score = smoothed[np.arange(len(best)), best]
        label = np.where(score >= self.threshold, best, -1)
        frames = self.frames + np.arange(len(label))
        self.frames += len(label)
        events = []
        if len(label) == 0:
            return events
        # Boundaries where the active keyword changes: runs are few, so this loop is short.
        change = np.flatnonzero(np.diff(label)) + 1
        for first, last in zip(np.r_[0, change], np.r_[change, len(label)] - 1):
            column = label[first]
            if column < 0:  # below threshold: only closes the open run
                if self.run is not None:
                    events += self.event(self.run)
                    self.run = None
                continue
            peak = float(score[first:last + 1].max())
            if self.run is not None and column == self.run[0] and frames[first] == self.run[2] + 1:
                self.run[2], self.run[3] = frames[last], max(self.run[3], peak)
                continue
            if self.run is not None:
                events += self.event(self.run)
            self.run = [column, frames[first], frames[last], peak]
        return events

    def close(self):
        events = self.event(self.run) if self.run is not None else []
        self.run = None
        return events


#: Built-in operating point, used when neither the caller nor the model's metadata sets one.
DEFAULTS = {"hop": 0.1, "smoothing": 0.3, "threshold": 0.5, "refractory": 1.0}


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

    Audio shorter than one window is zero padded to one window; empty audio has no
    windows and no events.

    Parameters
    ----------
    model : classifier or str or path-like
        Anything with ``predict_proba`` on raw clips ``(n, window_samples)`` and
        ``classes_``: a :class:`~sklkws.export.CompactClassifier`, a fitted sklkws
        pipeline, ... A path to a ``.tflite`` file loads a CompactClassifier.
    keywords : sequence of str, default=None
        The classes to detect; None means every class except ``"_silence_"`` and
        ``"_unknown_"``.
    hop : float, default=None
        Seconds between window starts.
    smoothing : float, default=None
        Span (seconds) of the posterior moving average; at most one hop means none.
    threshold : float, default=None
        Smallest smoothed posterior that counts as a detection.
    refractory : float, default=None
        Seconds after an event during which no other event is emitted.
    window : float, default=None
        Window length in seconds; None uses the model's clip length
        (``n_samples_`` or ``n_features_in_``).
    sample_rate : int, default=None
        None uses the model's (``sample_rate_``), else 16000.
    batch_size : int, default=64
        Windows per ``predict_proba`` call.
    num_threads : int, default=1
        Interpreter threads when ``model`` is a path to a ``.tflite`` file.
    streaming : bool or {"pair", "stateful"}, default=None
        Use the model's streaming forms (``sklkws export --streaming``), which give
        the whole-window model's numbers for less: the streaming pair
        (:class:`~sklkws.device.StreamingModel`) computes each stream frame's front
        end once and the network per window; the step graph of a network that
        streams with state (:class:`~sklkws.device.StatefulModel`) also runs the
        network on each hop's new frames only. None: the step graph when the model
        carries one for this hop, else the pair when it carries one, else the whole
        window; True: a streaming form required (an error says how to export it);
        ``"pair"`` or ``"stateful"``: that form required; False: the whole-window model.

    For ``hop``, ``smoothing``, ``threshold`` and ``refractory``, None means the
    operating point stored in the model's metadata by
    :func:`sklkws.streaming.calibrate_spotter` (``metadata_["operating_point"]``),
    else the built-in 0.1 s, 0.3 s, 0.5 and 1.0 s.

    Attributes
    ----------
    keywords_ : ndarray of str
        The detected classes (set on first use).
    hop_, smoothing_, threshold_, refractory_ : float
        The operating point in use.
    window_samples_, hop_samples_, sample_rate_ : int

    Examples
    --------
    >>> spotter = KeywordSpotter("kws.tflite", hop=0.1, threshold=0.7)  # doctest: +SKIP
    >>> spotter.detect("recording.wav")  # doctest: +SKIP
    [Event(time=1.52, keyword='yes', score=0.94), Event(time=4.07, keyword='stop', score=0.88)]
    >>> P = spotter.window_posteriors(audio)  # one model pass  # doctest: +SKIP
    >>> [len(spotter.events_from_posteriors(P, threshold=t)) for t in (0.5, 0.9)]  # doctest: +SKIP
    [7, 3]
    >>> for event in spotter.stream(microphone_chunks()):  # doctest: +SKIP
    ...     print(event)
    """

    def __init__(self, model, *, keywords=None, hop=None, smoothing=None, threshold=None, refractory=None,
                 window=None, sample_rate=None, batch_size=64, num_threads=1, streaming=None):
        self.model = model
        self.keywords = keywords
        self.hop = hop
        self.smoothing = smoothing
        self.threshold = threshold
        self.refractory = refractory
        self.window = window
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.streaming = streaming

    # ------------------------------------------------------------------ setup

    def _setup(self):
        model = self.model
        if isinstance(model, (str, Path)):
            from ._compact import CompactClassifier

            if int(self.num_threads) < 1:
                raise ValueError(f"num_threads must be a positive integer, got {self.num_threads!r}.")
            model = CompactClassifier(model, num_threads=int(self.num_threads))
        for name in ("predict_proba", "classes_"):
            if not hasattr(model, name):
                raise ValueError(f"model must be a fitted classifier with predict_proba and classes_; "
                                 f"{type(model).__name__} has no {name}.")
        self.model_ = model
        stored = (getattr(model, "metadata_", None) or {}).get("operating_point") or {}
        for name, default in DEFAULTS.items():
            value = getattr(self, name)
            setattr(self, name + "_", stored.get(name, default) if value is None else value)
        rate = self.sample_rate or getattr(model, "sample_rate_", None) or 16000
        for name in ("hop", "refractory", "smoothing"):
            value = getattr(self, name + "_")
            if not isinstance(value, (int, float)) or value < 0 or (name == "hop" and value == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'hop' else 'non-negative'} number "
                                 f"of seconds, got {value!r}.")
        self._check_threshold(self.threshold_)
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
        self.hop_samples_ = max(1, int(round(self.hop_ * rate)))
        classes = [str(c) for c in model.classes_]
        keywords = [c for c in classes if c not in _NOT_KEYWORDS] if self.keywords is None else list(self.keywords)
        missing = [k for k in keywords if k not in classes]
        if missing or not keywords:
            raise ValueError(f"keywords {missing or keywords} are not among the model's classes {classes}.")
        self.keywords_ = np.asarray(keywords)
        self._columns = np.array([classes.index(k) for k in keywords])
        self.streaming_ = self._streaming_model(model)

    def _streaming_model(self, model):
        """The streaming form to use (StatefulModel or StreamingModel), or None for the whole-window model."""
        if self.streaming not in (None, True, False, "pair", "stateful"):
            raise ValueError(f"streaming must be None, True, False, 'pair' or 'stateful', got {self.streaming!r}.")
        if self.streaming is False:
            return None
        metadata = getattr(model, "metadata_", None) or {}
        if "streaming" not in metadata and self.streaming is None:
            return None
        from ._stream import StatefulModel, StreamingModel

        stateful = metadata.get("stateful") or {}
        if self.streaming == "stateful" and stateful.get("hop_samples", self.hop_samples_) != self.hop_samples_:
            raise ValueError(f"The model's step graph advances by {stateful['hop_samples']} samples, not by "
                             f"hop={self.hop_!r} s ({self.hop_samples_} samples): use that hop, or "
                             "streaming='pair'.")
        if self.streaming == "stateful" or (self.streaming in (None, True) and
                                            stateful.get("hop_samples") == self.hop_samples_):
            streaming = StatefulModel(model, num_threads=int(self.num_threads))
        else:
            streaming = StreamingModel(model, num_threads=int(self.num_threads))
        spec = streaming.spec_
        if spec["n_samples"] != self.window_samples_ or list(map(str, streaming.classes_)) != \
                [str(c) for c in model.classes_]:
            if self.streaming:
                raise ValueError(f"window={self.window!r} differs from the streaming pair's "
                                 f"{spec['n_samples']}-sample windows; leave window=None.")
            return None
        return streaming

    @staticmethod
    def _check_threshold(threshold):
        if not isinstance(threshold, (int, float, np.floating)) or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}.")

    def _decoder(self, threshold=None, smoothing=None, refractory=None):
        threshold = self.threshold_ if threshold is None else threshold
        self._check_threshold(threshold)
        smoothing = self.smoothing_ if smoothing is None else smoothing
        refractory = self.refractory_ if refractory is None else refractory
        if smoothing < 0 or refractory < 0:
            raise ValueError(f"smoothing and refractory must be non-negative seconds, got {smoothing!r}, "
                             f"{refractory!r}.")
        k = max(1, int(round(smoothing / self.hop_)))
        return _Decoder(self.keywords_, k, float(threshold), float(refractory), self.hop_samples_,
                        self.window_samples_, self.sample_rate_)

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
        self._state = self._decoder()
        return self

    # ------------------------------------------------------------- one pass

    def _check_chunk(self, chunk):
        chunk = np.asarray(chunk)
        if chunk.ndim != 1:
            raise ValueError(f"Expected a 1-D mono chunk of samples, got shape {chunk.shape}; mix stereo down first.")
        # The shared sample conventions: integer PCM of any width scaled, NaN/inf and unscaled PCM refused.
        return to_float_audio(chunk, what="audio").astype(np.float32, copy=False)

    def _predict(self, buffer, rows, base=0):
        """Keyword posteriors of the windows of ``buffer`` starting at ``rows``, in batches of ``batch_size``.

        ``base`` is the stream position of ``buffer[0]``: the streaming pair reuses the
        frames it computed for the previous windows of the same stream.
        """
        out = np.empty((len(rows), len(self.keywords_)), dtype=np.float64)
        windows = np.lib.stride_tricks.sliding_window_view(buffer, self.window_samples_)
        step = int(self.batch_size)
        for i in range(0, len(rows), step):
            if self.streaming_ is not None:
                proba = self.streaming_.predict_windows(buffer, rows[i:i + step], base)
            else:
                proba = self.model_.predict_proba(windows[rows[i:i + step]])
            out[i:i + len(proba)] = np.asarray(proba)[:, self._columns]
        return out

    def window_starts(self, n_samples):
        """Start sample of every window :meth:`window_posteriors` classifies in ``n_samples`` of audio.

        Windows start every hop while they fit; when samples remain after the last
        one (or the audio is shorter than a window), one more zero-padded window
        covers the end. Empty audio has none.

        Parameters
        ----------
        n_samples : int

        Returns
        -------
        starts : ndarray of int of shape (n_windows,)
        """
        if not hasattr(self, "window_samples_"):
            self._setup()
        W, H = self.window_samples_, self.hop_samples_
        starts = np.arange(0, max(n_samples - W + 1, 0), H)
        covered = starts[-1] + W if len(starts) else 0
        if n_samples > covered:
            starts = np.r_[starts, starts[-1] + H if len(starts) else 0]
        return starts

    def window_posteriors(self, audio):
        """Raw keyword posteriors of every window of a recording: the one model pass.

        Parameters
        ----------
        audio : array-like of shape (n_samples,) or str or path-like
            Samples at the model's rate (float in [-1, 1] or int16), or an audio file.

        Returns
        -------
        posteriors : ndarray of shape (n_windows, n_keywords)
            Columns in the order of ``keywords_``; row ``i`` is the window starting at
            ``window_starts(n_samples)[i]``. Feed it to :meth:`events_from_posteriors`.
        """
        self._setup()
        if isinstance(audio, (str, Path)):
            audio = self._read(audio)
        audio = self._check_chunk(audio)
        starts = self.window_starts(len(audio))
        if len(starts) == 0:
            return np.zeros((0, len(self.keywords_)), dtype=np.float64)
        padded = np.zeros(max(len(audio), starts[-1] + self.window_samples_), dtype=np.float32)
        padded[:len(audio)] = audio
        if self.streaming_ is not None:
            self.streaming_.reset()
        return self._predict(padded, starts)

    def smoothed_posteriors(self, posteriors, *, smoothing=None):
        """The causal moving average the detector thresholds.

        Parameters
        ----------
        posteriors : ndarray of shape (n_windows, n_keywords)
            From :meth:`window_posteriors`.
        smoothing : float, default=None
            Seconds; None uses ``smoothing_``.

        Returns
        -------
        smoothed : ndarray of shape (n_windows, n_keywords)
        """
        if not hasattr(self, "keywords_"):
            self._setup()
        return self._decoder(smoothing=smoothing).smooth(self._check_posteriors(posteriors))

    def _check_posteriors(self, posteriors):
        P = np.asarray(posteriors, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] != len(self.keywords_):
            raise ValueError(f"posteriors must have shape (n_windows, {len(self.keywords_)}) (one column per "
                             f"keyword, from window_posteriors), got {P.shape}.")
        return P

    def events_from_posteriors(self, posteriors, *, threshold=None, smoothing=None, refractory=None):
        """Decode events from precomputed window posteriors (no model call).

        Parameters
        ----------
        posteriors : ndarray of shape (n_windows, n_keywords)
            From :meth:`window_posteriors` with this spotter's window and hop.
        threshold, smoothing, refractory : float, default=None
            None uses ``threshold_``, ``smoothing_``, ``refractory_``.

        Returns
        -------
        events : list of Event
            Exactly what :meth:`detect` returns for the same audio and settings.
        """
        if not hasattr(self, "keywords_"):
            self._setup()
        P = self._check_posteriors(posteriors)
        decoder = self._decoder(threshold, smoothing, refractory)
        return decoder.feed(P) + decoder.close()

    # -------------------------------------------------------------- streaming

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
        events = self._state.feed(self._predict(self._buffer, starts - self._buffer_start, self._buffer_start))
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
        covered = self._next_start - self.hop_samples_ + self.window_samples_ if self._state.frames else 0
        if end > covered:  # samples after the last window (none at all: no window, no event)
            pad = self._next_start + self.window_samples_ - end  # one more window covering the end
            events += self.process(np.zeros(max(0, pad), dtype=np.float32))
        return events + self._state.close()

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
            Samples at the model's rate, or an audio file (WAV read with the
            standard library, other formats with soundfile; multi-channel files are
            mixed down; the rate must match the model's).

        Returns
        -------
        events : list of Event
        """
        return self.events_from_posteriors(self.window_posteriors(audio))

    def _read(self, path):
        self._setup()
        if not Path(path).is_file():
            raise ValueError(f"{path} is not a file.")
        if str(path).lower().endswith(".wav"):
            samples, rate = read_wav(path)
        else:
            try:
                import soundfile
            except ImportError:
                raise ValueError(f"{path}: reading formats other than PCM WAV needs soundfile "
                                 "(pip install soundfile), or convert the file to WAV.") from None
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
            samples = samples.mean(axis=1)
        if rate != self.sample_rate_:
            raise ValueError(f"{path} is sampled at {rate} Hz; the model expects {self.sample_rate_} Hz. "
                             "Resample it first (e.g. librosa.resample or sox).")
        return samples


def _sounddevice():
    try:
        import sounddevice
    except ImportError:
        raise ValueError("Listening to a microphone needs sounddevice: pip install sounddevice "
                         "(and the PortAudio library, e.g. apt install libportaudio2).") from None
    except OSError as error:  # the module is there but PortAudio is not
        raise ValueError(f"Listening to a microphone needs the PortAudio library ({error}); "
                         "install it, e.g. apt install libportaudio2.") from None
    return sounddevice


def microphone_chunks(sample_rate, *, blocksize=1600, duration=None, device=None, sounddevice=None):
    """Mono float32 chunks from an input device, as they are recorded.

    Parameters
    ----------
    sample_rate : int
    blocksize : int, default=1600
        Samples per chunk.
    duration : float, default=None
        Seconds to record; None records until interrupted (Ctrl-C).
    device : int or str, default=None
        The input device (see ``python -m sounddevice``); None is the default one.
    sounddevice : module, default=None
        The ``sounddevice`` module, or anything with its ``query_devices`` and
        ``InputStream`` (tests pass a fake one).

    Yields
    ------
    chunk : ndarray of shape (blocksize,), float32
    """
    import queue

    sd = _sounddevice() if sounddevice is None else sounddevice
    try:
        sd.query_devices(device, kind="input")
    except Exception as error:  # PortAudioError or ValueError: no such (input) device
        raise ValueError(f"No audio input device{'' if device is None else f' {device!r}'} ({error}); "
                         "plug in a microphone, or pass --device (list them with python -m sounddevice).") from None
    chunks = queue.Queue()

    def callback(indata, frames, time_info, status):
        chunks.put(np.asarray(indata, dtype=np.float32).mean(axis=1) if np.ndim(indata) == 2 else
                   np.asarray(indata, dtype=np.float32).copy())

    total = None if duration is None else int(round(duration * sample_rate))
    seen = 0
    with sd.InputStream(samplerate=sample_rate, channels=1, dtype="float32", blocksize=blocksize,
                        device=device, callback=callback):
        while total is None or seen < total:
            chunk = chunks.get()
            seen += len(chunk)
            yield chunk
