"""The speech-embedding spotter on the device: onnxruntime beside numpy, no training stack.

The speech_embedding model is an ONNX graph (see :mod:`sklkws.frontend._embedding`):
it reaches the device as itself, run by onnxruntime (wheels for aarch64 on PyPI),
not converted into the LiteRT file. :func:`embed` is the one definition of how a
batch of clips is padded and embedded, used by the training-side transformer too;
:class:`EmbeddingClassifier` adds the fitted head (standardisation, then a
logistic regression or a small ReLU network) as numpy arrays, so a ``joblib.dump``
of it loads on a Raspberry Pi with numpy, joblib and onnxruntime only.
"""

import numpy as np

from ._audio import to_float_audio
from ._labels import proba_to_labels

__all__ = ["EmbeddingClassifier", "embed", "embedding_session"]

#: The model's input rate, receptive field, step (samples) and output size.
EMBEDDING_RATE, EMBEDDING_WINDOW, EMBEDDING_STEP, EMBEDDING_DIM = 16000, 12400, 1280, 96


def embedding_session(model, num_threads=1):
    """An onnxruntime session of the speech_embedding model (a path or the file's bytes)."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("The speech-embedding spotter runs its front end with onnxruntime: "
                          "pip install onnxruntime (or pip install \"sklkws[device-embedding]\").") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(num_threads)
    options.log_severity_level = 3
    source = model if isinstance(model, (bytes, bytearray)) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def padding(n_samples, pad):
    """Zeros (before, after) for clips of ``n_samples``: ``pad`` seconds each side, at least one window."""
    lead = int(round(pad * EMBEDDING_RATE))
    return lead, lead + max(0, EMBEDDING_WINDOW - (n_samples + 2 * lead))


def n_embeddings(n_samples, pad):
    """Embeddings per clip of ``n_samples`` samples."""
    lead, tail = padding(n_samples, pad)
    return 1 + (n_samples + lead + tail - EMBEDDING_WINDOW) // EMBEDDING_STEP


def embed(session, X, pad):
    """Embeddings ``(n_clips, n_frames, 96)`` float32 of float32 clips ``(n_clips, n_samples)``."""
    lead, tail = padding(X.shape[1], pad)
    padded = np.pad(np.asarray(X, dtype=np.float32), ((0, 0), (lead, tail)))
    (out,) = session.run(None, {session.get_inputs()[0].name: padded})
    return out[:, :, 0, :]  # the model's (n, n_frames, 1, 96)


class EmbeddingClassifier:
    """A fitted speech-embedding pipeline as numpy arrays and the ONNX model: device inference only.

    Made on the training machine by :func:`sklkws.export.to_embedding_classifier`
    from a fitted :func:`~sklkws.custom_words.embedding_spotter_pipeline`;
    ``joblib.dump`` it there and ``joblib.load`` it on the device. It has
    ``predict_proba``, ``predict``, ``classes_`` and ``n_samples_``, so
    :class:`~sklkws.device.KeywordSpotter` runs it like a compact model.

    Parameters
    ----------
    model : bytes
        The speech_embedding ONNX file's content.
    classes : array-like of shape (n_classes,)
    mean, scale : ndarray of shape (n_features,)
        The head's standardisation.
    coef : ndarray of shape (n_classes, n_inputs)
        The output layer (softmax); ``n_inputs`` is ``n_features`` without hidden
        layers, else the last hidden layer's width.
    intercept : ndarray of shape (n_classes,)
    n_samples : int
        Clip length the head was trained on (16 kHz samples).
    pad : float
        Seconds of zeros on each side of a clip before embedding.
    num_threads : int, default=1
    batch_size : int, default=64
    hidden : sequence of (weights, bias), default=()
        Hidden layers between the standardisation and the output layer, each
        ``relu(h @ weights + bias)`` with ``weights`` of shape ``(n_in, n_out)``: the
        layers of an :class:`~sklearn.neural_network.MLPClassifier` head.

    Examples
    --------
    >>> compact = to_embedding_classifier(pipeline)  # doctest: +SKIP
    >>> joblib.dump(compact, "words.joblib")  # doctest: +SKIP
    >>> joblib.load("words.joblib").predict(clips)  # on the Pi  # doctest: +SKIP
    """

    def __init__(self, model, classes, mean, scale, coef, intercept, n_samples, pad, *, num_threads=1,
                 batch_size=64, hidden=()):
        self.model = bytes(model)
        self.classes_ = np.asarray(classes)
        self.mean, self.scale = np.asarray(mean, np.float32), np.asarray(scale, np.float32)
        self.coef, self.intercept = np.asarray(coef, np.float32), np.asarray(intercept, np.float32)
        self.hidden = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in hidden]
        self.n_samples_, self.pad = int(n_samples), float(pad)
        self.num_threads, self.batch_size = int(num_threads), int(batch_size)
        self.sample_rate_ = EMBEDDING_RATE
        n_features = n_embeddings(self.n_samples_, self.pad) * EMBEDDING_DIM
        widths = [n_features] + [w.shape[1] for w, _ in self.hidden]
        shapes_fit = self.mean.shape == (n_features,) and self.coef.shape == (len(self.classes_), widths[-1]) and all(
            w.shape == (n_in, len(b)) for (w, b), n_in in zip(self.hidden, widths))
        if not shapes_fit:
            raise ValueError(f"The head's layers do not chain from the {n_features} features that clips of "
                             f"{self.n_samples_} samples give to {len(self.classes_)} classes: build it with "
                             "to_embedding_classifier from the fitted pipeline.")
        self._session = None

    def __setstate__(self, state):
        state.setdefault("hidden", [])  # saved before heads could have hidden layers
        self.__dict__.update(state)

    def _scores(self, X):
        if self._session is None:
            self._session = embedding_session(self.model, self.num_threads)
        h = (embed(self._session, X, self.pad).reshape(len(X), -1) - self.mean) / self.scale
        for weights, bias in self.hidden:
            h = np.maximum(h @ weights + bias, 0.0)
        logits = h @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)  # softmax, as LogisticRegression's multinomial predict_proba
        np.exp(logits, out=logits)
        return logits / logits.sum(axis=1, keepdims=True)

    def predict_proba(self, X):
        """Class probabilities of each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            16 kHz float audio in [-1, 1], or int16 PCM.

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_samples_:
            raise ValueError(f"Expected clips of shape (n_clips, {self.n_samples_}), got {X.shape}.")
        X = to_float_audio(X, what="clips").astype(np.float32, copy=False)
        out = np.empty((len(X), len(self.classes_)), dtype=np.float32)
        for start in range(0, len(X), self.batch_size):
            out[start:start + self.batch_size] = self._scores(X[start:start + self.batch_size])
        return out

    def predict(self, X):
        """Most probable class of each clip."""
        return proba_to_labels(self.predict_proba(X), self.classes_)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_session"] = None  # onnxruntime sessions do not pickle; rebuilt on first use
        return state
