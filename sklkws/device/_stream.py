"""The streaming pair on the device: each stream frame's front end once, the network per window.

An exported model written with ``streaming=True`` (:func:`sklkws.export.export_compact`)
carries, besides its whole-window graph, two small graphs (see
:mod:`sklkws.export._streaming`): the *frames* graph (rows of ``n_fft`` samples to
mel power) and the *window* graph (a window's frames and peak to probabilities).
:class:`StreamingModel` runs them for :class:`~sklkws.device.KeywordSpotter`: the
frames inside a window come from the stream and are computed once, cached from one
call to the next; the few that reach past the window's edges are cut from the
zero-filled window, as the whole-window model sees them. Numpy, the standard
library and the LiteRT interpreter only.
"""

from pathlib import Path

import numpy as np

from ._audio import gather_zero_fill
from ._compact import _make_interpreter, metadata_entry, read_metadata

__all__ = ["StatefulModel", "StreamingModel", "embedded_graph"]

#: Names of the embedded graphs inside an exported .tflite (flatbuffer metadata entries).
FRAMES_NAME = "sklkws_stream_frames"
WINDOWS_NAME = "sklkws_stream_windows"
STEP_NAME = "sklkws_stream_step"

#: Rows per invoke of the frames graph: bounds the interpreter's arena on long recordings.
_ROWS_PER_INVOKE = 2048


def embedded_graph(content, name):
    """The bytes of a graph embedded in an exported .tflite under ``name``, or None.

    Needs the flatbuffer schema module (shipped with ai-edge-litert and TensorFlow);
    without it the streaming pair cannot be found and None is returned.
    """
    return metadata_entry(content, name)


class _Graph:
    """One interpreter with a resizable batch."""

    def __init__(self, content, num_threads):
        self.interpreter = _make_interpreter(content, num_threads)
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()
        self.output = self.outputs[0]["index"]
        self.shapes = None

    def __call__(self, *arrays):
        # Inputs are told apart by rank (frames are 3-D, peaks and rows 2-D): the
        # exporter strips tensor names.
        arrays = sorted(arrays, key=lambda a: -a.ndim)
        details = sorted(self.inputs, key=lambda d: -len(d["shape"]))
        shapes = [a.shape for a in arrays]
        if shapes != self.shapes:
            for detail, a in zip(details, arrays):
                self.interpreter.resize_tensor_input(detail["index"], list(a.shape))
            self.interpreter.allocate_tensors()
            self.shapes = shapes
        for detail, a in zip(details, arrays):
            self.interpreter.set_tensor(detail["index"], np.ascontiguousarray(a, dtype=np.float32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)


class StreamingModel:
    """Window probabilities from the streaming pair of an exported model, with frames reused.

    Parameters
    ----------
    model : CompactClassifier or str or path-like or bytes
        An exported model written with ``streaming=True``.
    num_threads : int, default=1

    Attributes
    ----------
    spec_ : dict
        The framing (``n_fft``, ``hop_length``, ``center``, ``n_frames``, ``n_bins``,
        ``n_samples``, ``peak``) from the model's metadata.
    classes_ : ndarray

    Raises
    ------
    ValueError
        If the model carries no streaming pair (export it with ``streaming=True``), or
        the schema module needed to find it is missing.

    Examples
    --------
    >>> streaming = StreamingModel("kws.tflite")  # doctest: +SKIP
    >>> P = streaming.predict_windows(audio, np.arange(0, len(audio) - 16000 + 1, 1600))  # doctest: +SKIP
    """

    def __init__(self, model, *, num_threads=1):
        content = model if isinstance(model, (bytes, bytearray)) else None
        if content is None and isinstance(model, (str, Path)):
            content = Path(model).read_bytes()
        if content is None:  # a CompactClassifier: its bytes, in memory or on disk
            content = getattr(model, "_content", None)
            if content is None and getattr(model, "model_path", None) is not None:
                content = Path(model.model_path).read_bytes()
        if content is None:
            raise ValueError(f"{type(model).__name__} is not an exported sklkws model: nothing to stream.")
        self._content = bytes(content)
        metadata = self._metadata = read_metadata(self._content)
        spec = metadata.get("streaming")
        frames, windows = embedded_graph(content, FRAMES_NAME), embedded_graph(content, WINDOWS_NAME)
        if spec is None or frames is None or windows is None:
            raise ValueError(
                "This model carries no streaming pair: export it with `sklkws export --streaming` "
                "(export_compact(..., streaming=True)), or use KeywordSpotter(streaming=False)."
                if spec is None else
                "The streaming pair of this model cannot be read without the TFLite flatbuffer schema "
                "(pip install ai-edge-litert), or use KeywordSpotter(streaming=False)."
            )
        self.spec_ = dict(spec)
        self.classes_ = np.asarray(metadata["classes"])
        self._frames, self._windows = _Graph(frames, num_threads), _Graph(windows, num_threads)
        n_fft, hop, W = self.spec_["n_fft"], self.spec_["hop_length"], self.spec_["n_samples"]
        self._pad = n_fft // 2 if self.spec_["center"] else 0
        starts = np.arange(self.spec_["n_frames"]) * hop - self._pad  # each frame's first sample in its window
        inside = (starts >= 0) & (starts + n_fft <= W)
        self._row_starts = starts
        self._interior = np.flatnonzero(inside)
        self._edges = np.flatnonzero(~inside)
        self.reset()

    def reset(self):
        """Forget the cached frames (a new stream starts)."""
        self._cache_first, self._cache = 0, np.zeros((0, self.spec_["n_bins"]), dtype=np.float32)
        return self

    def _mel_power(self, rows):
        out = np.empty((len(rows), self.spec_["n_bins"]), dtype=np.float32)
        for i in range(0, len(rows), _ROWS_PER_INVOKE):
            out[i:i + _ROWS_PER_INVOKE] = self._frames(rows[i:i + _ROWS_PER_INVOKE])
        return out

    def _stream_frames(self, buffer, first, last, base):
        """Mel power of absolute stream frames ``first .. last - 1``, reusing the cache."""
        hop, n_fft = self.spec_["hop_length"], self.spec_["n_fft"]
        cached_end = self._cache_first + len(self._cache)
        if self._cache_first <= first < cached_end:
            keep = self._cache[first - self._cache_first: last - self._cache_first]
        else:
            keep = self._cache[:0]
        new = np.arange(first + len(keep), last)
        if len(new):
            rows = np.lib.stride_tricks.sliding_window_view(buffer, n_fft)[new * hop - self._pad - base]
            keep = np.concatenate([keep, self._mel_power(rows)])
        self._cache_first, self._cache = first, keep
        return keep

    def predict_windows(self, buffer, starts, base=0):
        """Probabilities of the windows of ``buffer`` starting at ``starts``.

        Parameters
        ----------
        buffer : ndarray of shape (n_samples,), float32
            Audio in [-1, 1]; every window ``buffer[s:s + n_samples]`` must fit in it.
        starts : ndarray of int
            Window starts in ``buffer``, increasing.
        base : int, default=0
            Stream position of ``buffer[0]``: frames cached by an earlier call on the
            same stream are reused when the windows continue it.

        Returns
        -------
        proba : ndarray of shape (n_windows, n_classes), float32
        """
        starts = np.asarray(starts, dtype=np.int64)
        hop, W = self.spec_["hop_length"], self.spec_["n_samples"]
        if len(starts) == 0:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        absolute = starts + int(base)
        if np.any(absolute % hop):  # windows off the frame grid: nothing to share between them
            self.reset()
            index = np.arange(self.spec_["n_frames"])
            rows = gather_zero_fill(buffer[None, :], (starts[:, None] + self._row_starts[None, :]).ravel(),
                                    self.spec_["n_fft"], low=np.repeat(starts, len(index)),
                                    high=np.repeat(starts + W, len(index)))
            F = self._mel_power(rows).reshape(len(starts), len(index), -1)
        else:
            first_frame = absolute // hop  # stream frame index of each window's frame 0
            lo, hi = first_frame[0] + self._interior[0], first_frame[-1] + self._interior[-1] + 1
            stream = self._stream_frames(buffer, int(lo), int(hi), int(base))
            F = np.empty((len(starts), self.spec_["n_frames"], self.spec_["n_bins"]), dtype=np.float32)
            F[:, self._interior] = stream[first_frame[:, None] + self._interior[None, :] - lo]
            if len(self._edges):
                offsets = (starts[:, None] + self._row_starts[self._edges][None, :]).ravel()
                rows = gather_zero_fill(buffer[None, :], offsets, self.spec_["n_fft"],
                                        low=np.repeat(starts, len(self._edges)),
                                        high=np.repeat(starts + W, len(self._edges)))
                F[:, self._edges] = self._mel_power(rows).reshape(len(starts), len(self._edges), -1)
        if not self.spec_["peak"]:
            return self._windows(F)
        windows = np.lib.stride_tricks.sliding_window_view(buffer, W)[starts]
        peak = np.abs(windows).max(axis=1, keepdims=True).astype(np.float32)
        return self._windows(F, peak)


class StatefulModel(StreamingModel):
    """Window probabilities from the step graph of an exported model: the network runs on each hop's new frames.

    A model exported with ``streaming=True`` whose network streams with state
    (``arch="tcresnet_stream"`` after ``MelFeatures(center=False, top_db=None)``; see
    :mod:`sklkws.export._stateful`) carries a *step* graph besides the streaming pair:
    the mel power of one hop's new frames and the state in, the probabilities of the
    window that ends with that hop and the next state out. This class keeps the state
    between calls, so each hop costs the front end of ``hop_frames`` frames and the
    network on those frames only. The probabilities are the whole-window model's.

    Parameters
    ----------
    model : CompactClassifier or str or path-like or bytes
        An exported model written with ``streaming=True`` that carries a step graph.
    num_threads : int, default=1

    Attributes
    ----------
    spec_ : dict
        The framing, as for :class:`StreamingModel`.
    stateful_ : dict
        ``hop_frames``, ``hop_samples`` (the hop the step graph advances by) and ``n_state``.
    classes_ : ndarray

    Raises
    ------
    ValueError
        If the model carries no step graph (its ``metadata_["stateful"]["refused"]``
        says why, when it was exported with ``streaming=True``).

    Examples
    --------
    >>> stateful = StatefulModel("kws.tflite")  # doctest: +SKIP
    >>> P = stateful.predict_windows(audio, np.arange(0, len(audio) - 16000 + 1, 1600))  # doctest: +SKIP
    """

    def __init__(self, model, *, num_threads=1):
        super().__init__(model, num_threads=num_threads)
        spec = self._metadata.get("stateful") or {}
        step = embedded_graph(self._content, STEP_NAME)
        if "hop_frames" not in spec or step is None:
            raise ValueError("This model carries no stateful step graph"
                             + (f" ({spec['refused']})" if "refused" in spec else
                                " (export a tcresnet_stream network with streaming=True)")
                             + "; use KeywordSpotter(streaming='pair').")
        self.stateful_ = dict(spec)
        self._step = _Graph(step, num_threads)
        sizes = [int(np.prod(d["shape"][1:])) for d in self._step.outputs]
        self._state_output = self._step.outputs[sizes.index(self.stateful_["n_state"])]["index"]
        self._proba_output = self._step.outputs[1 - sizes.index(self.stateful_["n_state"])]["index"]

    def macs_per_hop(self):
        """Multiply-accumulates of one hop: the front end of its new frames and one step of the network.

        Counted on the embedded graphs (:func:`~sklkws.device.tflite_macs`); times
        hops per second, the cost of a second of audio.

        Returns
        -------
        macs : int
        """
        from ._macs import tflite_macs

        frames = embedded_graph(self._content, FRAMES_NAME)
        return int(tflite_macs(embedded_graph(self._content, STEP_NAME))
                   + self.stateful_["hop_frames"] * tflite_macs(frames))

    def reset(self):
        """Forget the stream: the cached frames and the network's state."""
        super().reset()
        self._state, self._end = None, None  # state after the stream's frames up to _end (absolute, exclusive)
        return self

    def _run(self, power, state):
        """One hop: ``(hop_frames, n_bins)`` mel power and the state -> probabilities and the next state."""
        self._step(power[None], state)
        interpreter = self._step.interpreter
        return interpreter.get_tensor(self._proba_output)[0], interpreter.get_tensor(self._state_output)

    def predict_windows(self, buffer, starts, base=0):
        """Probabilities of the windows of ``buffer`` starting at ``starts``, as :meth:`StreamingModel.predict_windows`.

        Windows one hop apart on the frame grid step the network; a call that
        continues the previous one's windows keeps its state. Windows not one hop
        apart, or off the frame grid, are computed by the streaming pair instead.
        """
        starts = np.asarray(starts, dtype=np.int64)
        h, hop, n_frames = self.stateful_["hop_frames"], self.spec_["hop_length"], self.spec_["n_frames"]
        absolute = starts + int(base)
        if len(starts) == 0 or np.any(absolute % hop) or np.any(np.diff(absolute) != h * hop):
            self.reset()
            return super().predict_windows(buffer, starts, base)
        ends = absolute // hop + n_frames  # each window's last frame + 1, in stream frames
        if self._state is None or self._end != ends[0] - h:
            # A fresh state, warmed up on the hops that end with the first window: the
            # frames before that window only reach outputs that its pooling leaves out.
            first = int(ends[0] - -(-n_frames // h) * h)
            state = np.zeros((1, self.stateful_["n_state"]), dtype=np.float32)
        else:
            first, state = self._end, self._state
        lo = max(first, int(absolute[0] // hop))
        power = self._stream_frames(buffer, lo, int(ends[-1]), int(base))
        if lo > first:  # warm-up frames before the audio: repeat its first frame (any value would do)
            power = np.concatenate([np.repeat(power[:1], lo - first, axis=0), power])
        out = np.empty((len(starts), len(self.classes_)), dtype=np.float32)
        n_hops = (int(ends[-1]) - first) // h
        skip = n_hops - len(starts)
        for i in range(n_hops):
            proba, state = self._run(power[i * h:(i + 1) * h], state)
            if i >= skip:
                out[i - skip] = proba
        self._state, self._end = state, int(ends[-1])
        return out
