"""The streaming export: frames computed once per stream, the network once per window.

A spotter that slides a one-second window every 0.1 s recomputes 101 STFT frames
for every window, 91 of which the previous window already had; in the exported
model the float32 front end costs several times the int8 network. The streaming
pair splits the graph where the two differ in reuse:

- the **frames graph** ``(n, n_fft)`` rows of samples -> ``(n, n_bins)`` mel power
  of each row (Hann window, FFT, mel projection: the front end's first half,
  :meth:`~sklkws.layers.MelFeaturesLayer.mel_power`), run once per stream frame;
- the **window graph** ``(n, n_frames, n_bins)`` frames and ``(n, 1)`` window peaks
  -> probabilities: the peak normalisation applied to the power (the power of
  ``x / peak`` is the power of ``x`` over ``peak ** 2``), dB with the window's
  ``top_db`` floor, DCT, the networks and the vote
  (:meth:`~sklkws.layers.MelFeaturesLayer.features_from_power`).

The frames of a window that reach past its edges (two on each side for a centred
512-point STFT with hop 160) see the window's zero padding in the windowed model,
so the device computes those from the zero-filled window rather than from the
stream; every other frame is the stream's. The pair therefore computes the
windowed model's numbers, up to float32 rounding and int8 requantisation
(``tests/test_streaming_export.py`` bounds the difference).

Supported front ends: an optional peak :class:`~sklkws.preprocessing.Normalizer`
(a Pipeline step or a classifier's ``normalizer``) followed by :class:`~sklkws.features.MelFeatures` (any kind), per member of a vote
when they share ``n_fft``, ``hop_length``, ``center`` and the sample rate. Others
(pre-emphasis, RMS normalisation, a network on raw audio) raise a ``ValueError``
naming the step: their spotter uses the whole-window model.
"""

import keras
import numpy as np
from keras import ops

# The names the device reads the embedded graphs by (flatbuffer metadata entries) are defined there.
from ..device._stream import FRAMES_NAME, WINDOWS_NAME  # noqa: F401  (used by export._convert)
from ..frontend import _maths
from ..frontend._layers import MelFeaturesLayer, from_transformer
from ._convert import FRONTEND_PREFIX, _GraphBuilder, _n_samples, _unwrap, own_frontend, to_tflite

__all__ = ["build_streaming_models", "streaming_bytes"]



class _Raw:
    """Raw audio not yet turned into frames: what the front end has done to it so far."""

    def __init__(self, normalized=False):
        self.normalized = normalized


@keras.saving.register_keras_serializable(package="sklkws")
class _FramesLayer(keras.layers.Layer):
    """Rows of samples to the concatenated mel power of every front-end configuration."""

    def __init__(self, configs, **kwargs):
        super().__init__(**kwargs)
        self.configs = [dict(c) for c in configs]
        self._layers = [MelFeaturesLayer(**c) for c in self.configs]

    def call(self, rows):
        # Every configuration frames alike (the builder checks it): one power spectrum serves all.
        spectrum = self._layers[0]._power(ops.expand_dims(rows, 1))  # (n, 1, n_fft // 2 + 1)
        power = [layer.mel_power(spectrum)[:, 0, :] for layer in self._layers]
        return power[0] if len(power) == 1 else ops.concatenate(power, axis=-1)

    def get_config(self):
        return {**super().get_config(), "configs": self.configs}


@keras.saving.register_keras_serializable(package="sklkws")
class _WindowFeaturesLayer(keras.layers.Layer):
    """One member's features of a window from the stream's mel power and the window's peak."""

    def __init__(self, config, offset, normalized, **kwargs):
        super().__init__(**kwargs)
        self.config, self.offset, self.normalized = dict(config), int(offset), bool(normalized)
        self._layer = MelFeaturesLayer(**self.config)

    def call(self, frames, peak=None):
        S = frames[:, :, self.offset:self.offset + _power_bins(self.config)]
        if self.normalized:
            level = _maths.peak_level(peak, xp=ops)
            S = S / ops.expand_dims(ops.square(level), -1)
        return self._layer.features_from_power(S)

    def get_config(self):
        return {**super().get_config(), "config": self.config, "offset": self.offset,
                "normalized": self.normalized}


_FRAMING = ("sample_rate", "n_fft", "hop_length", "center", "stft")


def _power_bins(config):
    """Bins of a configuration's mel power: the spectrum for "power", else the mel bands."""
    return config["n_fft"] // 2 + 1 if config["kind"] == "power" else config["n_mels"]


class _StreamingBuilder(_GraphBuilder):
    """The exporter's graph walk with raw audio replaced by stream frames and window peaks."""

    def __init__(self, stft, n_samples, *, probe=False):
        super().__init__(stft)
        self.n_samples = n_samples
        self.probe = probe  # first walk: only collect the front-end configurations, build nothing
        self.configs = []  # distinct MelFeatures configurations, in frames-graph order
        self.offsets = []
        self.uses_peak = False
        self.frames_input = self.peak_input = None

    def _config_offset(self, layer):
        config = {k: v for k, v in layer.get_config().items()
                  if k in ("kind", "sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "n_mfcc",
                           "top_db", "center", "stft")}
        config["flatten"] = False
        if self.configs and any(config[k] != self.configs[0][k] for k in _FRAMING):
            raise ValueError(
                "Cannot stream this model: its front ends frame the audio differently "
                f"({ {k: self.configs[0][k] for k in _FRAMING} } and { {k: config[k] for k in _FRAMING} }); "
                "the streaming pair shares one framing. Its spotter uses the whole-window model."
            )
        # Configurations that differ only after the mel power (top_db, DCT) share its bins.
        key = {k: v for k, v in config.items() if k not in ("top_db", "n_mfcc", "kind")}
        key["mel"] = config["kind"] != "power"
        for existing, offset in zip(self.configs, self.offsets):
            other = {k: v for k, v in existing.items() if k not in ("top_db", "n_mfcc", "kind")}
            other["mel"] = existing["kind"] != "power"
            if other == key:
                return config, offset
        offset = sum(_power_bins(c) for c in self.configs)
        self.configs.append(config)
        self.offsets.append(offset)
        return config, offset

    def transformers(self, steps, x):
        from sklearn.pipeline import Pipeline

        from ..frontend import MelFeatures, Normalizer

        for step in steps:
            if not isinstance(x, _Raw):
                x = x if self.probe else super().transformers([step], x)
                continue
            if step is None or (isinstance(step, str) and step == "passthrough") or hasattr(step, "fit_resample"):
                continue
            if isinstance(step, Pipeline):
                x = self.transformers([s for _, s in step.steps], x)
                continue
            if isinstance(step, Normalizer) and step.method == "peak" and not x.normalized:
                self.frontend.append({"step": "Normalizer", "params": {"method": "peak"}})
                x = _Raw(normalized=True)
                continue
            if isinstance(step, MelFeatures):
                layer = from_transformer(step, stft=self.stft)
                config, offset = self._config_offset(layer)
                self.sample_rate = self.sample_rate or layer.sample_rate
                self.uses_peak |= x.normalized
                name = f"{FRONTEND_PREFIX}{len(self.frontend)}_stream_melfeatures"
                self.frontend.append({"step": "MelFeatures", "params": config})
                if self.probe:
                    x = None
                    continue
                # The peak is an input only of a front end that normalises (else the graph has none).
                peak = (self.peak_input,) if x.normalized else ()
                features = _WindowFeaturesLayer(config, offset, x.normalized, name=name)(self.frames_input, *peak)
                x = ops.reshape(features, (-1, features.shape[1] * features.shape[2])) if layer.flatten else features
                continue
            if from_transformer(step, stft=self.stft) is None:  # changes nothing on device (PadOrCrop to length)
                continue
            raise ValueError(
                f"Cannot stream this model: its front end applies {type(step).__name__} to the raw audio "
                f"({step!r}) before the features; the streaming pair supports a peak Normalizer and MelFeatures. "
                "Its spotter uses the whole-window model."
            )
        return x

    def member(self, estimator, x):
        final = _unwrap(estimator)
        if isinstance(getattr(final, "model_", None), keras.Model):
            frontend = getattr(final, "frontend_", None)
            if isinstance(x, _Raw) and frontend is None:
                raise ValueError(
                    f"Cannot stream this model: {type(final).__name__}'s network takes raw audio, so there are "
                    "no frames to reuse between windows. Its spotter uses the whole-window model."
                )
            if self.probe:
                self.transformers(own_frontend(final), x)
                return None
        return super().member(estimator, x)

    def vote(self, ensemble, x):
        if self.probe:
            for member in ensemble.estimators_:
                self.member(member, x)
            return None
        return super().vote(ensemble, x)


def build_streaming_models(estimator, *, stft="fft"):
    """The frames graph and the window graph of a fitted pipeline (see the module docstring).

    Parameters
    ----------
    estimator : fitted estimator
        As for :func:`~sklkws.export.build_inference_model`.
    stft : {"fft", "matmul"}, default="fft"

    Returns
    -------
    frames_model : keras.Model
        ``(n, n_fft)`` float32 rows -> ``(n, n_bins)`` mel power.
    window_model : keras.Model
        Inputs ``(n, n_frames, n_bins)`` frames (and ``(n, 1)`` window peaks when the
        front end normalises) -> ``(n, n_classes)`` probabilities.
    spec : dict
        What the device needs to cut the frames: ``n_fft``, ``hop_length``,
        ``center``, ``n_frames``, ``n_bins``, ``n_samples``, ``peak``.

    Raises
    ------
    ValueError
        If the front end cannot stream (the message names the step).
    """
    n_samples = _n_samples(estimator)
    # The frames input's shape (frame count, bins of every configuration) is known only
    # after the whole walk: a first walk collects the configurations, the second builds.
    probe = _StreamingBuilder(stft, n_samples, probe=True)
    probe.member(estimator, _Raw())
    if not probe.configs:
        raise ValueError("Cannot stream this model: it has no MelFeatures front end.")
    builder = _StreamingBuilder(stft, n_samples)
    first = probe.configs[0]
    n_frames = _maths.n_frames(n_samples, first["n_fft"], first["hop_length"], first["center"])
    n_bins = sum(_power_bins(c) for c in probe.configs)
    builder.frames_input = keras.Input((n_frames, n_bins), name="frames")
    builder.peak_input = keras.Input((1,), name="peak")
    outputs = builder.member(estimator, _Raw())
    inputs = [builder.frames_input] + ([builder.peak_input] if builder.uses_peak else [])
    window_model = keras.Model(inputs, outputs, name="sklkws_stream_windows")
    rows = keras.Input((first["n_fft"],), name="rows")
    frames_model = keras.Model(rows, _FramesLayer(builder.configs, name=f"{FRONTEND_PREFIX}_stream_frames")(rows),
                               name="sklkws_stream_frames")
    spec = {"n_fft": int(first["n_fft"]), "hop_length": int(first["hop_length"]), "center": bool(first["center"]),
            "n_frames": int(n_frames), "n_bins": int(n_bins), "n_samples": int(n_samples),
            "peak": bool(builder.uses_peak)}
    return frames_model, window_model, spec


def window_frames(frames_model, X, spec):
    """Frames-graph output of whole clips, as the windowed model frames them: ``(n, n_frames, n_bins)``."""
    rows = _maths.frame(np.asarray(X, dtype=np.float32), spec["n_fft"], spec["hop_length"], spec["center"])
    power = frames_model.predict(rows.reshape(-1, spec["n_fft"]), verbose=0, batch_size=4096)
    return power.reshape(len(X), spec["n_frames"], spec["n_bins"]).astype(np.float32)


def streaming_bytes(estimator, quantize="int8", representative_data=None, *, stft="fft"):
    """The two TFLite graphs of the streaming pair and their spec.

    The frames graph stays float32 (a power spectrum spans far more than int8's
    range); the window graph is quantised like the whole-window model (its dB and
    normalisation ops stay float32).

    Parameters
    ----------
    estimator : fitted estimator
    quantize : {"int8", "float16"} or None, default="int8"
    representative_data : ndarray of shape (n_clips, n_samples), default=None
        Calibration clips, required for int8.
    stft : {"fft", "matmul"}, default="fft"

    Returns
    -------
    frames_content, windows_content : bytes
    spec : dict
        As returned by :func:`build_streaming_models`.
    """
    frames_model, window_model, spec = build_streaming_models(estimator, stft=stft)
    calibration = None
    if representative_data is not None:
        X = np.asarray(representative_data, dtype=np.float32)
        calibration = [window_frames(frames_model, X, spec)]
        if spec["peak"]:
            calibration.append(np.max(np.abs(X), axis=1, keepdims=True))
    frames_content = to_tflite(frames_model)
    windows_content = to_tflite(window_model, quantize, calibration)
    return frames_content, windows_content, spec
