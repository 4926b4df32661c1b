"""Keras layers of the audio front end, for on-device graphs.

Each layer computes in the graph what one fitted transformer of
:mod:`sklkws.preprocessing` / :mod:`sklkws.features` computes in numpy, from the
same constants of :mod:`sklkws.frontend._maths` (Hann window, DFT, mel and DCT
matrices, ``AMIN`` and ``EPS``) and the same formulas, so a pipeline and its
exported model agree to float32 rounding. :func:`from_transformer` maps a fitted
transformer to its layer; :func:`frontend_model` chains several.

- :class:`~sklkws.preprocessing.Preemphasis` -> :class:`PreemphasisLayer` (1e-6 absolute)
- :class:`~sklkws.preprocessing.Normalizer` -> :class:`NormalizerLayer` (1e-6 relative)
- :class:`~sklkws.preprocessing.PadOrCrop` -> :class:`PadOrCropLayer` (exact; deterministic modes)
- :class:`~sklkws.features.MelFeatures` -> :class:`MelFeaturesLayer` (log-mel within 1e-3 dB,
  MFCC within 1e-3, power within 1e-5 of each clip's peak power)

The tolerances are what ``tests/test_layers.py`` asserts. The STFT runs either as
a real FFT of the windowed frames (``stft="fft"``, the default: small and fast, a
float-only operator on device) or as one product with the windowed DFT matrices
of :func:`sklkws.frontend._maths.dft_matrices` (``stft="matmul"``: int8-quantisable but
``n_fft * (n_fft + 2)`` weights, about 1 MB for ``n_fft=512``).

Importing this module imports Keras (TensorFlow backend).
"""

import keras
import numpy as np
from keras import ops

from ..device._macs import fft_macs
from . import _maths

__all__ = [
    "MelFeaturesLayer",
    "NormalizerLayer",
    "PadOrCropLayer",
    "PreemphasisLayer",
    "from_transformer",
    "frontend_model",
]

def _constant(array):
    return ops.convert_to_tensor(np.asarray(array, dtype=np.float32))


@keras.saving.register_keras_serializable(package="sklkws")
class PreemphasisLayer(keras.layers.Layer):
    """``y[t] = x[t] - coef * x[t-1]`` with ``x[-1] = 0`` (:class:`~sklkws.preprocessing.Preemphasis`).

    Parameters
    ----------
    coef : float, default=0.97
    **kwargs
        Passed to :class:`keras.layers.Layer` (``name``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> PreemphasisLayer(0.5)(np.array([[1.0, 1.0, 1.0]], dtype="float32")).numpy()
    array([[1. , 0.5, 0.5]], dtype=float32)
    """

    def __init__(self, coef=0.97, **kwargs):
        super().__init__(**kwargs)
        self.coef = float(coef)

    def call(self, x):
        return _maths.preemphasis(x, self.coef, xp=ops)

    def get_config(self):
        return {**super().get_config(), "coef": self.coef}


@keras.saving.register_keras_serializable(package="sklkws")
class NormalizerLayer(keras.layers.Layer):
    """Per-clip loudness normalisation (:class:`~sklkws.preprocessing.Normalizer`).

    Parameters
    ----------
    method : {"peak", "minmax", "rms"}, default="peak"
    target_dbfs : float, default=-20.0
        RMS target for ``method="rms"``.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> NormalizerLayer()(np.array([[0.1, -0.2, 0.05]], dtype="float32")).numpy()
    array([[ 0.5 , -1.  ,  0.25]], dtype=float32)
    """

    def __init__(self, method="peak", target_dbfs=-20.0, **kwargs):
        super().__init__(**kwargs)
        _maths.check_normalize_method(method)
        self.method = method
        self.target_dbfs = float(target_dbfs)

    def call(self, x):
        return _maths.normalize(x, self.method, self.target_dbfs, xp=ops)

    def get_config(self):
        return {**super().get_config(), "method": self.method, "target_dbfs": self.target_dbfs}


@keras.saving.register_keras_serializable(package="sklkws")
class PadOrCropLayer(keras.layers.Layer):
    """Fixed-length clips (:class:`~sklkws.preprocessing.PadOrCrop`, deterministic modes).

    Parameters
    ----------
    length : int, default=16000
    crop : {"center", "left"}, default="center"
    pad : {"right", "center"}, default="right"
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> PadOrCropLayer(2)(np.array([[1.0, 2.0, 3.0, 4.0]], dtype="float32")).numpy()
    array([[2., 3.]], dtype=float32)
    """

    def __init__(self, length=16000, crop="center", pad="right", **kwargs):
        super().__init__(**kwargs)
        if crop not in ("center", "left") or pad not in ("right", "center"):
            raise ValueError(
                f"PadOrCropLayer supports crop in ('center', 'left') and pad in ('right', 'center'), "
                f"got crop={crop!r}, pad={pad!r}: random placement has no fixed on-device equivalent."
            )
        self.length = int(length)
        self.crop = crop
        self.pad = pad

    def call(self, x):
        n = x.shape[1]
        if n >= self.length:
            start = (n - self.length) // 2 if self.crop == "center" else 0
            return x[:, start:start + self.length]
        lead = (self.length - n) // 2 if self.pad == "center" else 0
        return ops.pad(x, [[0, 0], [lead, self.length - n - lead]])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length)

    def get_config(self):
        return {**super().get_config(), "length": self.length, "crop": self.crop, "pad": self.pad}


@keras.saving.register_keras_serializable(package="sklkws")
class MelFeaturesLayer(keras.layers.Layer):
    """Power, log-mel or MFCC features (:class:`~sklkws.features.MelFeatures`) as graph ops.

    Input ``(batch, n_samples)`` float audio; output ``(batch, n_bins, n_frames)``
    (or flattened), as the transformer's. Frames are cut with reshapes and slices
    (no gather index table), the STFT is an FFT or a DFT product (see ``stft``),
    the mel and DCT projections are matrix products with the matrices of
    :mod:`sklkws.frontend._maths`, and ``power_to_db`` applies the same ``amin`` and
    per-clip ``top_db`` floor.

    Parameters
    ----------
    kind, sample_rate, n_fft, hop_length, n_mels, fmin, fmax, n_mfcc, top_db, center, flatten
        As in :class:`~sklkws.features.MelFeatures`.
    stft : {"fft", "matmul"}, default="fft"
        ``"fft"``: real FFT of the Hann-windowed frames. ``"matmul"``: product with
        the windowed DFT matrices (quantisable, large).
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> layer = MelFeaturesLayer("logmel", n_mels=40)
    >>> layer(np.zeros((2, 16000), dtype="float32")).shape
    TensorShape([2, 40, 101])
    """

    def __init__(
        self, kind="logmel", sample_rate=16000, n_fft=512, hop_length=160, n_mels=40, fmin=20.0,
        fmax=None, n_mfcc=13, top_db=80.0, center=True, flatten=False, stft="fft", **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in ("power", "logmel", "mfcc"):
            raise ValueError(f"Unknown feature kind {kind!r}; use 'power', 'logmel' or 'mfcc'.")
        if stft not in ("fft", "matmul"):
            raise ValueError(f"Unknown stft {stft!r}; use 'fft' or 'matmul'.")
        self.kind, self.stft = kind, stft
        self.sample_rate, self.n_fft, self.hop_length = int(sample_rate), int(n_fft), int(hop_length)
        self.n_mels, self.n_mfcc = int(n_mels), int(n_mfcc)
        self.fmin, self.fmax = float(fmin), None if fmax is None else float(fmax)
        self.top_db = None if top_db is None else float(top_db)
        self.center, self.flatten = bool(center), bool(flatten)

    @property
    def n_bins(self):
        return _maths.n_bins(self.kind, self.n_fft, self.n_mels, self.n_mfcc)

    def _frames(self, x):
        """Overlapping frames ``(batch, n_frames, n_fft)`` from reshapes and slices only."""
        if self.center:
            pad = self.n_fft // 2
            x = ops.pad(x, [[0, 0], [pad, pad]])
        n_samples, hop = x.shape[1], self.hop_length
        n_frames = _maths.n_frames(n_samples, self.n_fft, hop, center=False)
        k = -(-self.n_fft // hop)  # blocks of `hop` samples spanned by one frame
        n_blocks = n_frames + k - 1
        if n_blocks * hop > n_samples:  # the tail only feeds samples past n_fft, cut below
            x = ops.pad(x, [[0, 0], [0, n_blocks * hop - n_samples]])
        blocks = ops.reshape(x[:, : n_blocks * hop], (-1, n_blocks, hop))
        frames = ops.concatenate([blocks[:, i:i + n_frames] for i in range(k)], axis=-1)
        return frames[..., : self.n_fft]

    def _power(self, frames):
        n_freq = self.n_fft // 2 + 1
        if self.stft == "fft":
            real, imag = ops.rfft(frames * _constant(_maths.hann_window(self.n_fft)), fft_length=self.n_fft)
        else:
            cos, sin = _maths.dft_matrices(self.n_fft)
            spectrum = ops.matmul(frames, _constant(np.concatenate([cos, sin], axis=1)))
            real, imag = spectrum[..., :n_freq], spectrum[..., n_freq:]
        return ops.square(real) + ops.square(imag)

    def call(self, x):
        return self.features_from_power(self.mel_power(self._power(self._frames(x))))

    # The two halves of ``call``, shared with the streaming export (``sklkws.export._streaming``),
    # which computes each frame's mel power once per stream and the rest once per window.
    def mel_power(self, S):
        """Frames-first power ``(..., n_fft // 2 + 1)`` projected on the mel bands (unchanged for "power")."""
        if self.kind == "power":
            return S
        mel = _maths.mel_matrix(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        return ops.matmul(S, _constant(mel.T))

    def features_from_power(self, S):
        """``(batch, n_frames, bins)`` mel power to the layer's output: dB with the clip's floor, DCT, layout."""
        if self.kind != "power":
            S = _maths.power_to_db(S, self.top_db, xp=ops)
        if self.kind == "mfcc":
            S = ops.matmul(S, _constant(_maths.dct_matrix(self.n_mels, self.n_mfcc).T))
        S = ops.transpose(S, (0, 2, 1))
        return ops.reshape(S, (-1, S.shape[1] * S.shape[2])) if self.flatten else S

    def build(self, input_shape):
        self.n_samples = int(input_shape[1])
        super().build(input_shape)

    def count_macs(self):
        """Multiply-accumulates of one clip: the STFT (``n log2 n`` per frame for the FFT), mel, DCT."""
        n_frames = _maths.n_frames(self.n_samples, self.n_fft, self.hop_length, self.center)
        n_freq = self.n_fft // 2 + 1
        if self.stft == "fft":
            macs = fft_macs(n_frames, self.n_fft)  # counted as the exported graph's RFFT2D is
        else:
            macs = n_frames * self.n_fft * 2 * n_freq
        if self.kind != "power":
            macs += n_frames * n_freq * self.n_mels
        if self.kind == "mfcc":
            macs += n_frames * self.n_mels * self.n_mfcc
        return int(macs)

    def compute_output_shape(self, input_shape):
        n_frames = _maths.n_frames(input_shape[1], self.n_fft, self.hop_length, self.center)
        if self.flatten:
            return (input_shape[0], self.n_bins * n_frames)
        return (input_shape[0], self.n_bins, n_frames)

    def get_config(self):
        names = ("kind", "sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "n_mfcc", "top_db",
                 "center", "flatten", "stft")
        return {**super().get_config(), **{name: getattr(self, name) for name in names}}


def _params(step, names):
    return {name: getattr(step, name) for name in names}


def from_transformer(step, *, stft="fft", name=None):
    """The Keras layer computing what a fitted sklkws transformer computes.

    Parameters
    ----------
    step : fitted transformer
        :class:`~sklkws.preprocessing.Preemphasis`,
        :class:`~sklkws.preprocessing.Normalizer`,
        :class:`~sklkws.preprocessing.PadOrCrop` (``crop`` / ``pad`` not random,
        unless the clip length already equals ``length``) or
        :class:`~sklkws.features.MelFeatures`.
    stft : {"fft", "matmul"}, default="fft"
        STFT form of a :class:`MelFeaturesLayer`.
    name : str, default=None
        Layer name.

    Returns
    -------
    layer : keras.layers.Layer or None
        None for a step that changes nothing on device (a ``PadOrCrop`` whose
        ``length`` is the clip length).

    Raises
    ------
    ValueError
        If the step has no on-device equivalent (naming it), or is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.preprocessing import Preemphasis
    >>> layer = from_transformer(Preemphasis(0.9).fit(np.zeros((1, 8))))
    >>> type(layer).__name__, layer.coef
    ('PreemphasisLayer', 0.9)
    """
    from sklearn.utils.validation import check_is_fitted

    from ._features import MelFeatures
    from ._preprocessing import Normalizer, PadOrCrop, Preemphasis

    kind = type(step).__name__
    if not isinstance(step, (Preemphasis, Normalizer, PadOrCrop, MelFeatures)):
        raise ValueError(
            f"Step {kind} ({step!r}) has no on-device layer; supported: Preemphasis, Normalizer, "
            "PadOrCrop, MelFeatures (augmentation samplers are skipped). Compute it outside "
            "the exported model or drop it from the pipeline."
        )
    check_is_fitted(step)
    if isinstance(step, Preemphasis):
        return PreemphasisLayer(step.coef, name=name)
    if isinstance(step, Normalizer):
        return NormalizerLayer(step.method, step.target_dbfs, name=name)
    if isinstance(step, PadOrCrop):
        if step.n_features_in_ == step.length:
            return None
        if step.crop == "random" or step.pad == "random":
            raise ValueError(
                f"Step {step!r} places clips at random (crop={step.crop!r}, pad={step.pad!r}); "
                "use crop='center'/'left' and pad='right'/'center' for an exportable pipeline."
            )
        return PadOrCropLayer(step.length, step.crop, step.pad, name=name)
    names = ("kind", "sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "n_mfcc", "top_db", "center",
             "flatten")
    return MelFeaturesLayer(**_params(step, names), stft=stft, name=name)


def frontend_model(steps, n_samples, *, stft="fft", name="frontend"):
    """A Keras model chaining the layers of fitted transformers.

    Parameters
    ----------
    steps : sequence of fitted transformers
        In pipeline order; see :func:`from_transformer`.
    n_samples : int
        Clip length of the model input.
    stft : {"fft", "matmul"}, default="fft"
    name : str, default="frontend"

    Returns
    -------
    model : keras.Model
        Input ``(batch, n_samples)`` float32 audio; output what the last step returns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.features import MelFeatures
    >>> from sklkws.preprocessing import Preemphasis
    >>> X = np.zeros((1, 16000), dtype="float32")
    >>> model = frontend_model([Preemphasis().fit(X), MelFeatures("mfcc").fit(X)], 16000)
    >>> model.output_shape
    (None, 13, 101)
    """
    inputs = keras.Input((int(n_samples),), name=f"{name}_audio")
    x = inputs
    for i, step in enumerate(steps):
        layer = from_transformer(step, stft=stft, name=f"{name}_{i}_{type(step).__name__.lower()}")
        if layer is not None:
            x = layer(x)
    return keras.Model(inputs, x, name=name)
