"""The training input pipeline: shuffling, fresh augmentation, front end and mixup per batch.

Batch ``i`` of the whole run is a pure function of ``(seed, i)``: the epoch's shuffle,
the augmentation draw and the mixup draw all come from ``SeedSequence((seed, epoch,
batch))``. Prefetching and resuming from a checkpoint at some epoch therefore see the
same data as an uninterrupted run.

Because each batch depends on nothing but its index, several batches can be prepared at
once (``workers``) and still reach the network in order: the same training as one at a
time, batch for batch. On an accelerator this is what keeps the network fed; on a
2-core CPU the front end already uses both cores.

With the TensorFlow backend the batches reach Keras as a ``tf.data`` pipeline,
``range(batches).map(numpy_function)``, rather than a ``keras.utils.PyDataset``: Keras
feeds a PyDataset to TensorFlow through ``tf.data.Dataset.from_generator``, whose
suspended Python generators are finalised at interpreter exit and crash it (seen as
segfaults of pytest workers). With another Keras backend (JAX, PyTorch), where
TensorFlow may not even be installed, they come as a PyDataset with read-ahead threads
of its own.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np

from .._validation import as_float_audio
from ..frontend._maths import available_cores, thread_limit


def batch_rng(seed, *keys):
    """A generator seeded from ``seed`` and integer ``keys`` (epoch, batch, ...)."""
    return np.random.default_rng(np.random.SeedSequence((int(seed), *map(int, keys))))


def input_workers(n_jobs):
    """Batches prepared at once for an ``n_jobs`` parameter: None -> 1, -1 -> every core, -2 -> all but one, ...

    Parameters
    ----------
    n_jobs : int or None
        scikit-learn's convention: a positive count, or negative counts from the
        number of cores this process may run on.

    Returns
    -------
    workers : int
        At least 1.

    Examples
    --------
    >>> input_workers(None), input_workers(3)
    (1, 3)
    """
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, available_cores() + 1 + n_jobs)
    return int(n_jobs)


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
    """All the training batches of a run, indexable and as one input pipeline for Keras.

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
        self.batch_threads = None  # threads of one batch's front end; 1 when batches are drawn in parallel
        self._order = (None, None)  # (epoch, permutation): one shuffle per epoch

    @property
    def num_batches(self):
        return self.steps_per_epoch * max(1, self.last_epoch - self.first_epoch)

    def _permutation(self, epoch):
        # Read and replaced as one tuple: batches of two epochs may be drawn at once in
        # different threads, and each must get its own epoch's order.
        order = self._order
        if order[0] != epoch:
            order = (epoch, batch_rng(self.seed, epoch).permutation(self.rows))
            self._order = order
        return order[1]

    def __getitem__(self, index):
        with thread_limit(self.batch_threads):
            return self._batch(index)

    def _batch(self, index):
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

    def dataset(self, feature_shape, targets=None, workers=1):
        """The batches as one input for ``keras.Model.fit``: ``(X, Y, sample_weight)`` in order.

        Parameters
        ----------
        feature_shape : tuple of int
            The shape of one example of the network's input.
        targets : callable, default=None
            ``targets(X, Y) -> Y`` rewrites the targets of every batch from exactly the
            augmented (and mixed) input the network sees (e.g. a teacher's
            probabilities mixed in, for knowledge distillation). With TensorFlow it
            runs inside the ``tf.data`` graph on tensors; with another backend on
            NumPy arrays, in the worker that made the batch.
        workers : int, default=1
            Batches prepared at once, each in its own thread; the order and the
            batches are the same for any number.

        Returns
        -------
        data : tf.data.Dataset or keras.utils.PyDataset
            ``tf.data`` with the TensorFlow backend, a PyDataset otherwise.
        callbacks : list of keras.callbacks.Callback
            To be passed to ``fit`` before any other (the PyDataset learns each epoch's
            number from one); empty for ``tf.data``.
        """
        workers = max(1, int(workers))
        self.batch_threads = None if workers == 1 else 1
        if keras.backend.backend() != "tensorflow":
            sequence = _BatchSequence(self, targets, workers)
            return sequence, [_EpochSetter(sequence)]
        import tensorflow as tf

        def load(index):
            # stateful: the batch cache and augmenters have side effects; TF must not dedupe calls.
            return tf.numpy_function(self.__getitem__, [index], [tf.float32] * 3, stateful=True)

        def shape(X, Y, w):
            X.set_shape((None, *feature_shape))
            Y.set_shape((None, self.Y.shape[1]))
            w.set_shape((None,))
            return X, Y, w

        data = tf.data.Dataset.range(self.num_batches)
        # In order for any number of workers (deterministic=True): the same run as one at a time.
        data = data.map(load) if workers == 1 else data.map(load, num_parallel_calls=workers, deterministic=True)
        data = data.map(shape)
        if targets is not None:
            data = data.map(lambda X, Y, w: (X, targets(X, Y), w))
        return data.prefetch(max(2, workers)), []


class _BatchSequence(keras.utils.PyDataset):
    """A run's :class:`TrainingBatches` as a ``keras.utils.PyDataset`` (Keras backends other than TensorFlow).

    One PyDataset epoch is one training epoch: Keras restarts a PyDataset's indices at
    every epoch. Item ``i`` is batch ``epoch * steps_per_epoch + i`` of the run, with
    ``epoch`` set by :class:`_EpochSetter` from Keras's own epoch number (Keras also draws
    a batch and ends an "epoch" before training, to build its metrics, so counting the
    PyDataset's epoch ends would be off by one).

    The read-ahead is ours, not Keras's ``workers``: Keras's enqueuer stops and restarts
    at every epoch and then served batches left over from before the restart (seen
    with Keras 3.15: the batches drawn for building the metrics came back as the first
    epoch's), so its order is not the run's. Here ``workers`` threads compute the next
    ``2 * workers`` batches of the run by index while Keras consumes the current one;
    NumPy, SciPy's FFT and the BLAS release the GIL for the heavy parts.
    """

    def __init__(self, batches, targets, workers):
        super().__init__()
        self.batches = batches
        self.targets = targets
        self.n_threads = workers  # not ``workers``: Keras reads that attribute to start its own enqueuer
        self.epoch = 0  # relative to batches.first_epoch
        self._pool = None
        self._pending = {}

    def __len__(self):
        return self.batches.steps_per_epoch

    def _load(self, index):
        X, Y, w = self.batches[index]
        if self.targets is not None:
            Y = np.asarray(keras.ops.convert_to_numpy(self.targets(X, Y)), dtype=np.float32)
        return X, Y, w

    def __getitem__(self, index):
        index += self.epoch * self.batches.steps_per_epoch
        if self.n_threads == 1:
            return self._load(index)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.n_threads, thread_name_prefix="sklkws-batches")
        for ahead in range(index, min(index + 2 * self.n_threads, self.batches.num_batches)):
            if ahead not in self._pending:
                self._pending[ahead] = self._pool.submit(self._load, ahead)
        for behind in [k for k in self._pending if k < index]:  # a batch Keras asked for and dropped
            self._pending.pop(behind).cancel()
        return self._pending.pop(index).result()

    def close(self):
        """Stop the read-ahead threads (batches not started are dropped)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            pool.shutdown(wait=True)


class _EpochSetter(keras.callbacks.Callback):
    """Tells a :class:`_BatchSequence` which epoch Keras starts (before it draws the epoch's first batch),
    and stops its read-ahead when training ends."""

    def __init__(self, sequence):
        super().__init__()
        self.sequence = sequence

    def on_epoch_begin(self, epoch, logs=None):
        self.sequence.epoch = epoch - self.sequence.batches.first_epoch

    def on_train_end(self, logs=None):
        self.sequence.close()
