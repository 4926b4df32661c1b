"""The training input pipeline: shuffling, fresh augmentation, front end and mixup per batch.

Batch ``i`` of the whole run is a pure function of ``(seed, i)``: the epoch's shuffle,
the augmentation draw and the mixup draw all come from ``SeedSequence((seed, epoch,
batch))``. Prefetching and resuming from a checkpoint at some epoch therefore see the
same data as an uninterrupted run.

The batches reach Keras as a ``tf.data`` pipeline, ``range(batches).map(numpy_function)``,
rather than a ``keras.utils.PyDataset``: Keras feeds a PyDataset through
``tf.data.Dataset.from_generator``, whose suspended Python generators are finalised at
interpreter exit and crash it (seen as segfaults of pytest workers).
"""

import math

import numpy as np
import tensorflow as tf

from .._validation import as_float_audio


def batch_rng(seed, *keys):
    """A generator seeded from ``seed`` and integer ``keys`` (epoch, batch, ...)."""
    return np.random.default_rng(np.random.SeedSequence((int(seed), *map(int, keys))))


def mixup(X, Y, w, alpha, rng):
    """Mix each example with a random partner of the same batch (Zhang et al., 2018).

    ``lam ~ Beta(alpha, alpha)`` per example, folded to ``max(lam, 1 - lam)`` so the
    example keeps its own identity; targets and sample weights are mixed alike
    (for indicator targets this gives soft multi-label targets).
    """
    n = len(X)
    lam = rng.beta(alpha, alpha, size=n).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam)
    partner = rng.permutation(n)
    lx = lam.reshape((n,) + (1,) * (X.ndim - 1))
    X = lx * X + (1.0 - lx) * X[partner]
    Y = lam[:, None] * Y + (1.0 - lam[:, None]) * Y[partner]
    w = lam * w + (1.0 - lam) * w[partner]
    return X, Y, w


class TrainingBatches:
    """All the training batches of a run, indexable and as one ``tf.data`` pipeline.

    :meth:`dataset` holds every batch of the remaining epochs (Keras is told
    ``steps_per_epoch``), so Keras keeps one iterator for the whole run and its
    read-ahead never computes batches that no epoch uses.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
        Raw audio or features, as the classifier received them (not copied).
    Y : ndarray of shape (n, n_outputs)
        One-hot or indicator targets, float32.
    w : ndarray of shape (n,)
        Sample weights.
    rows : ndarray of int
        The training rows of ``X`` (the rest is validation).
    batch_size : int
    seed : int
        Root of every random draw.
    normalize : callable or None
        The fitted per-clip normaliser, applied to the raw batch before augmentation.
    augment : object with ``augment(X, random_state)`` or None
        Called on every batch with a fresh seed.
    transform : callable or None
        The fitted front end, applied after augmentation.
    feature_augment : object with ``augment(X, random_state)`` or None
        Called on the front end's output.
    mixup_alpha : float
        0 for no mixup.
    first_epoch : int
        Epoch of batch 0 (nonzero when resuming).
    last_epoch : int
        Epochs end before this one (the ``epochs`` of ``fit``).
    """

    def __init__(self, X, Y, w, *, rows, batch_size, seed, normalize=None, augment=None, transform=None,
                 feature_augment=None, mixup_alpha=0.0, first_epoch=0, last_epoch=1):
        self.X, self.Y, self.w = X, Y, w
        self.rows = np.asarray(rows)
        self.batch_size = batch_size
        self.seed = seed
        self.normalize = normalize
        self.augment = augment
        self.transform = transform
        self.feature_augment = feature_augment
        self.mixup_alpha = mixup_alpha
        self.first_epoch = first_epoch
        self.last_epoch = last_epoch
        self.steps_per_epoch = math.ceil(len(self.rows) / batch_size)
        self._order = (None, None)  # (epoch, permutation): one shuffle per epoch

    @property
    def num_batches(self):
        return self.steps_per_epoch * max(1, self.last_epoch - self.first_epoch)

    def _permutation(self, epoch):
        if self._order[0] != epoch:
            self._order = (epoch, batch_rng(self.seed, epoch).permutation(self.rows))
        return self._order[1]

    def __getitem__(self, index):
        epoch, step = divmod(index, self.steps_per_epoch)
        epoch += self.first_epoch
        # The last batch is topped up from the epoch's start: one batch shape, one graph trace.
        order = self._permutation(epoch)
        take = np.arange(step * self.batch_size, (step + 1) * self.batch_size) % len(order)
        rows = np.sort(order[take[: min(self.batch_size, len(order))]])
        rng = batch_rng(self.seed, epoch, step)
        Xb, Yb, wb = self.X[rows], self.Y[rows], self.w[rows]
        if Xb.dtype.kind == "i":  # integer PCM kept uncopied by fit: scaled here, one batch at a time
            Xb = as_float_audio(Xb)
        if self.normalize is not None:
            Xb = self.normalize(Xb)
        if self.augment is not None:
            Xb = self.augment.augment(Xb, random_state=int(rng.integers(2**31 - 1)))
        Xb = np.asarray(self.transform(Xb) if self.transform is not None else Xb, dtype=np.float32)
        if self.feature_augment is not None:
            Xb = self.feature_augment.augment(Xb, random_state=int(rng.integers(2**31 - 1)))
        if self.mixup_alpha:
            Xb, Yb, wb = mixup(Xb, Yb, wb, self.mixup_alpha, rng)
        return np.asarray(Xb, dtype=np.float32), np.asarray(Yb, dtype=np.float32), np.asarray(wb, dtype=np.float32)

    def dataset(self, feature_shape, targets=None):
        """The batches as a ``tf.data.Dataset`` of ``(X, Y, sample_weight)``, in order.

        ``targets`` (a callable ``(X, Y) -> Y`` on tensors, e.g. a teacher's
        probabilities mixed in for knowledge distillation) rewrites the targets of
        every batch from exactly the augmented (and mixed) input the network sees. It
        runs inside the ``tf.data`` graph, so no Python is called back per batch.
        """

        def load(index):
            # stateful: the batch cache and augmenters have side effects; TF must not dedupe calls.
            return tf.numpy_function(self.__getitem__, [index], [tf.float32] * 3, stateful=True)

        def shape(X, Y, w):
            X.set_shape((None, *feature_shape))
            Y.set_shape((None, self.Y.shape[1]))
            w.set_shape((None,))
            return X, Y, w

        data = tf.data.Dataset.range(self.num_batches).map(load).map(shape)
        if targets is not None:
            data = data.map(lambda X, Y, w: (X, targets(X, Y), w))
        return data.prefetch(2)
