"""KerasClassifierBase: a Keras network behind the full scikit-learn classifier contract."""

import contextlib
import numbers
import os
import random
import threading
import warnings
from pathlib import Path

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .._compat import HasMethods, Interval, StrOptions
from .._validation import as_float_audio, batch_slices, check_audio
from . import _checkpoint
from ._architectures import PRECISIONS, build_model
from ._checkpoint import PicklesKerasModel
from ._data import TrainingBatches, input_workers
from ._labels import LabelEncodingMixin

_OPTIMIZERS = {
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "adamw": lambda lr: keras.optimizers.AdamW(lr),
    "nadam": lambda lr: keras.optimizers.Nadam(lr),
    "sgd": lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(lr),
    "adadelta": lambda lr: keras.optimizers.Adadelta(lr),
}
#: Held while a Keras classifier seeds the global generators and trains: fits in
#: concurrent threads run one after another, each as it would alone (re-entrant, for a
#: fit started from inside another's callbacks).
_FIT_LOCK = threading.RLock()


@contextlib.contextmanager
def _serial_fit(name):
    """Hold :data:`_FIT_LOCK`, warning (once per call site) when another thread's fit makes this one wait."""
    if not _FIT_LOCK.acquire(blocking=False):
        warnings.warn(
            f"{name}.fit waits for a fit in another thread: Keras seeds process-wide "
            "generators, so fits in one process train one at a time to stay reproducible. "
            "For parallel training use processes (joblib's default loky backend).",
            UserWarning,
            stacklevel=3,
        )
        _FIT_LOCK.acquire()
    try:
        yield
    finally:
        _FIT_LOCK.release()


@contextlib.contextmanager
def _own_default_seeds(seed):
    """Keras's default seeds drawn from a generator of the fit's own, not Python's global one.

    Keras gives every initializer and seed generator built without a seed one drawn
    from Python's global :mod:`random` (``keras.src.random.seed_generator``). Other
    threads of the process draw from it too (a Dask worker's event loop does, several
    times a second), so the initial weights would depend on their timing and a member
    fitted on a Dask worker would differ from the same member fitted here. Where that
    module is laid out differently (another Keras), Keras keeps its own behaviour.
    """
    try:
        from keras.src.random import seed_generator
    except ImportError:  # pragma: no cover - another Keras layout
        seed_generator = None
    saved = getattr(seed_generator, "python_random", None)
    if saved is None:  # pragma: no cover - another Keras layout
        yield
        return
    seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        seed_generator.python_random = saved


#: Parameters that do not change what is trained: left out of the checkpoint fingerprint.
_NOT_FINGERPRINTED = {"verbose", "run_eagerly", "callbacks", "checkpoint_dir", "warm_start", "n_jobs"}
_DEFAULT_PATIENCE = {"early_stopping": 10, "reduce_lr_on_plateau": 4}


def _patience(value, name):
    """``False`` -> None, ``True`` -> the default patience, an int -> that patience."""
    if value is False or value is None:
        return None
    return _DEFAULT_PATIENCE[name] if value is True else int(value)


def _int_pcm(X):
    """Whether ``X`` is a 2-D numpy array of signed integer PCM clips (kept uncopied in ``fit``)."""
    return isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "i" and X.shape[1] >= 16


def _ndim(X):
    """Rank of an array or nested sequence, without converting it (ragged lists stay lists)."""
    shape = getattr(X, "shape", None)
    if shape is not None:
        return len(shape)
    ndim, item = 0, X
    while isinstance(item, (list, tuple)) and len(item):
        ndim, item = ndim + 1, item[0]
    return ndim if ndim else np.asarray(X).ndim


def network_input(estimator, X):
    """What a fitted sklkws Keras classifier's network takes for clips ``X``: its front end's output.

    Parameters
    ----------
    estimator : KerasClassifierBase
        Fitted (or with its front end fitted, inside ``fit``).
    X : array-like of shape (n_clips, ...)
        A batch as ``fit`` and ``predict`` receive it.

    Returns
    -------
    features : ndarray of float32
        A fresh array (integer PCM scaled when there is no front end).
    """
    return estimator._features(X)


def _flatten(prefix, params):
    """``{prefix__key: value}`` for every entry of a dict of builder arguments, nested dicts too."""
    flat = {}
    for key, value in (params or {}).items() if isinstance(params, dict) else ():
        name = f"{prefix}__{key}"
        flat[name] = value
        if isinstance(value, dict):
            flat.update(_flatten(name, value))
    return flat


def _copy_dicts(value):
    """A copy of nested dicts (other values shared): what set_params may change."""
    return {k: _copy_dicts(v) for k, v in value.items()} if isinstance(value, dict) else value


def _set_nested(params, path, value):
    """``params[path[0]][path[1]]... = value``, creating dicts on the way (in place of a non-dict value)."""
    for key in path[:-1]:
        if not isinstance(params.get(key), dict):
            params[key] = {}
        params = params[key]
    params[path[-1]] = value


class KerasClassifierBase(LabelEncodingMixin, PicklesKerasModel, ClassifierMixin, BaseEstimator):
    """Train a registered Keras architecture as a scikit-learn classifier.

    ``fit`` builds a fresh network from :data:`sklkws.models.ARCHITECTURES` (unless
    ``warm_start``), encodes labels, splits off a validation set (grouped by speaker
    when ``groups`` are given), and trains with the chosen optimizer and learning-rate
    schedule on batches that are augmented afresh every epoch. Subclasses only choose
    what ``arch="auto"`` means.

    Parameters
    ----------
    arch : str, default="auto"
        Key of :data:`sklkws.models.ARCHITECTURES`; ``"auto"`` lets the subclass choose
        from the input rank.
    arch_params : dict, default=None
        Extra keyword arguments of the architecture's builder (depth, width, ...).
        Each entry is also a nested parameter ``arch_params__<key>``, searchable like
        a contained estimator's (``set_params``, ``GridSearchCV``, ``OptunaSearch``).
    frontend : transformer, default=None
        Fitted on ``X`` in ``fit`` and applied batch by batch after ``augment``, in
        training and in prediction: with a raw-audio ``augment`` and
        :class:`~sklkws.features.MelFeatures` here, every epoch sees freshly augmented
        audio. ``model_`` then takes the front end's output.
    normalizer : transformer, default=None
        A per-clip, stateless waveform step such as
        :class:`~sklkws.preprocessing.Normalizer` (``method="peak"``), applied to each
        batch of raw audio before ``augment`` and ``frontend``, in training and in
        prediction: the same clips as that step before the classifier in a Pipeline,
        without the Pipeline's normalised copy of the whole set. It is fitted on one
        clip. The exporter puts it in the graph before the front end.
    optimizer : {"adam", "adamw", "nadam", "sgd", "rmsprop", "adadelta"}, default="adam"
        ``"sgd"`` is SGD with Nesterov momentum 0.9.
    learning_rate : float, default=1e-3
        Initial learning rate.
    decay : {"cosine", "exponential", "step"} or None, default="cosine"
        Learning-rate schedule over the whole run (cosine and exponential end at
        ``learning_rate * decay_rate``); ``"step"`` multiplies by ``decay_rate`` every
        ``decay_steps`` epochs. None keeps it constant (needed by
        ``reduce_lr_on_plateau``).
    decay_rate : float, default=0.01
        Final fraction (cosine, exponential) or per-step factor (step).
    decay_steps : int, default=10
        Epochs per step of the ``"step"`` schedule.
    epochs : int, default=30
    batch_size : int, default=64
    validation_split : float, default=0.0
        Fraction held out for validation (``val_loss``, ``val_accuracy`` in
        ``history_``); split by ``groups`` when given, else stratified.
    early_stopping : bool or int, default=False
        Stop when the validation loss (training loss without a validation split)
        has not improved for this many epochs (``True``: 10), restoring the best
        weights.
    reduce_lr_on_plateau : bool or int, default=False
        Halve the learning rate after this many epochs without improvement
        (``True``: 4). Requires ``decay=None``.
    l2 : float, default=None
        L2 weight of the kernels; None keeps the architecture's default.
    dropout : float, default=None
        Dropout rate; None keeps the architecture's default.
    label_smoothing : float, default=0.0
    mixup_alpha : float, default=0.0
        Mixup within each batch with ``Beta(alpha, alpha)`` weights; 0 disables it.
    class_weight : "balanced", dict or None, default=None
        Multiplies the sample weights (single-label targets only).
    callbacks : list of keras.callbacks.Callback, default=None
        Extra callbacks, called after the built-in ones.
    augment : object with ``augment(X, random_state)``, default=None
        An :mod:`sklkws.augment` sampler or chain, called on every training batch
        with a fresh seed (on raw audio before ``frontend``, or on the features).
    feature_augment : object with ``augment(X, random_state)``, default=None
        Like ``augment``, but called on the ``frontend``'s output (e.g.
        :class:`~sklkws.augment.SpecAugment` after raw-audio noise and shifts).
    warm_start : bool, default=False
        Keep training the fitted network on the next ``fit`` (same classes and input
        shape) with a fresh optimizer and schedule: pretrain, then fine-tune.
    checkpoint_dir : str or path-like, default=None
        Save model, optimizer and history after every epoch; a ``fit`` with the same
        folder, data and parameters resumes after the last finished epoch (or
        returns the finished model). Different data (any clip, label, weight or
        group) or parameters start afresh, with a warning, as does a corrupt
        checkpoint (set aside in a ``corrupt-*`` subfolder).
    verbose : int, default=0
        Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.
    run_eagerly : bool, default=False
        Run the training and prediction steps eagerly instead of tracing them into
        a TensorFlow graph: slower per step, but saves the seconds of tracing that
        dominate tiny models (tests, debugging).
    precision : {"float32", "mixed_float16", "mixed_bfloat16"}, default="float32"
        Keras dtype policy of the network (:func:`sklkws.models.build_model`): the
        mixed policies compute in 16 bits with float32 weights and a float32 output
        layer, for GPUs with tensor cores (``"mixed_float16"`` adds loss scaling);
        on most CPUs they are slower than float32. The exporters convert a float32
        copy of the network (:func:`sklkws.models.float32_model`).
    n_jobs : int, default=None
        Training batches prepared at once (shuffle, augmentation, front end), each in a
        thread, while the network trains on earlier ones: None is one at a time, -1
        one per core. The batches, their order and so the trained network are the same
        for any value. Raise it when an accelerator waits for its input
        (``benchmarks/scale.py`` measures the wait, ``docs/scale.md``); on a 2-core
        CPU the front end already uses both cores.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling, augmentation, mixup and the validation split; an
        int gives the same model on CPU with the same number of CPU threads. The
        library does not enable TensorFlow op determinism (it is process-wide), so
        GPU kernels may differ between runs. The seed is set process-wide, so fits
        in concurrent threads of one process run one at a time (with a warning).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multi-label indicator targets).
    model_ : keras.Model
        The trained functional network; input one clip (or its features), output
        class probabilities.
    history_ : dict of str -> list of float
        Per-epoch training logs (``loss``, ``accuracy``, ``val_loss``, ...).
    n_features_in_ : int
        Samples per clip (or ``n_bins`` for feature input).
    frontend_ : transformer
        The fitted front end (when ``frontend`` is set).
    normalizer_ : transformer
        The fitted ``normalizer`` (None when it is not set).
    n_epochs_ : int
        Epochs trained in total (less than ``epochs`` after early stopping).
    """

    _parameter_constraints = {
        "arch": [str],
        "arch_params": [dict, None],
        "frontend": [HasMethods(["fit", "transform"]), None],
        "normalizer": [HasMethods(["fit", "transform"]), None],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "decay": [StrOptions({"cosine", "exponential", "step"}), None],
        "decay_rate": [Interval(numbers.Real, 0, 1, closed="both")],
        "decay_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_split": [Interval(numbers.Real, 0, 1, closed="left")],
        "early_stopping": ["boolean", Interval(numbers.Integral, 1, None, closed="left")],
        "reduce_lr_on_plateau": ["boolean", Interval(numbers.Integral, 1, None, closed="left")],
        "l2": [Interval(numbers.Real, 0, None, closed="left"), None],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left"), None],
        "label_smoothing": [Interval(numbers.Real, 0, 1, closed="left")],
        "mixup_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "callbacks": [list, None],
        "augment": [HasMethods(["augment"]), None],
        "feature_augment": [HasMethods(["augment"]), None],
        "warm_start": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
        "verbose": ["verbose"],
        "run_eagerly": ["boolean"],
        "precision": [StrOptions(set(PRECISIONS))],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        arch="auto",
        arch_params=None,
        *,
        frontend=None,
        normalizer=None,
        optimizer="adam",
        learning_rate=1e-3,
        decay="cosine",
        decay_rate=0.01,
        decay_steps=10,
        epochs=30,
        batch_size=64,
        validation_split=0.0,
        early_stopping=False,
        reduce_lr_on_plateau=False,
        l2=None,
        dropout=None,
        label_smoothing=0.0,
        mixup_alpha=0.0,
        class_weight=None,
        callbacks=None,
        augment=None,
        feature_augment=None,
        warm_start=False,
        checkpoint_dir=None,
        verbose=0,
        run_eagerly=False,
        precision="float32",
        n_jobs=None,
        random_state=None,
    ):
        self.arch = arch
        self.arch_params = arch_params
        self.frontend = frontend
        self.normalizer = normalizer
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.decay = decay
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.reduce_lr_on_plateau = reduce_lr_on_plateau
        self.l2 = l2
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.mixup_alpha = mixup_alpha
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.augment = augment
        self.feature_augment = feature_augment
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose
        self.run_eagerly = run_eagerly
        self.precision = precision
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------- nested architecture parameters

    def get_params(self, deep=True):
        """Parameters of this classifier; with ``deep``, each ``arch_params`` entry as ``arch_params__<key>``.

        The architecture's builder arguments are then searchable like a nested
        estimator's parameters (``GridSearchCV(clf, {"arch_params__width": [1, 2]})``,
        ``clf__arch_params__width`` inside a Pipeline).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators (the front end, the
            augmenters) and the entries of ``arch_params`` (nested dicts as
            ``arch_params__<key>__<subkey>``).

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        if deep:
            params.update(_flatten("arch_params", self.arch_params))
        return params

    def set_params(self, **params):
        """Set parameters; ``arch_params__<key>=value`` sets one builder argument.

        ``arch_params`` is replaced by an updated copy (the dict given at construction,
        maybe shared with clones, is never changed); a key it does not hold yet is
        added, and the builder says at ``fit`` if it takes no such argument.

        Parameters
        ----------
        **params : dict
            Estimator parameters, ``<component>__<parameter>`` for contained
            estimators and ``arch_params__<key>`` (``arch_params__<key>__<subkey>``
            for a nested dict such as ``mel_params``).

        Returns
        -------
        self : object
        """
        nested = {key: params.pop(key) for key in list(params) if key.startswith("arch_params__")}
        if nested:
            arch_params = _copy_dicts(params.pop("arch_params", self.arch_params) or {})
            for key, value in nested.items():
                _set_nested(arch_params, key[len("arch_params__"):].split("__"), value)
            params["arch_params"] = arch_params
        return super().set_params(**params)

    # ------------------------------------------------------------------ subclass hook

    def _resolve_arch(self, feature_shape):
        """Architecture name for ``arch="auto"`` given one example's (feature) shape."""
        if self.arch == "auto":
            raise ValueError(
                f"{type(self).__name__} has no automatic architecture; pass arch= one of "
                "sklkws.models.ARCHITECTURES."
            )
        return self.arch

    # ------------------------------------------------------------------- validation

    def _takes_feature_rows(self):
        """Whether 2-D input is rows of features (not clips of audio) for the architecture chosen."""
        # The packed TwoBranchFeatures rows hold statistics and the clip length in samples:
        # far outside audio's [-1, 1], so the audio checks would warn (or refuse) falsely.
        return self.frontend is None and self.arch == "two_branch"

    def _check_X(self, X, *, reset):
        """Raw audio (n, n_samples) through check_audio, features (n, bins, frames) as they are."""
        if _ndim(X) == 3 or (_ndim(X) == 2 and self._takes_feature_rows()):
            X = validate_data(self, X, reset=reset, allow_nd=True, dtype=[np.float32, np.float64])
        elif reset and _int_pcm(X):
            # Integer PCM stays as it is: a float copy of the whole set (6.4 GB for the 105k
            # Speech Commands clips as int16) would triple fit's memory; batches are scaled as drawn.
            check_audio(self, X[:1], reset=True)
        else:
            X = check_audio(self, X, reset=reset)
        if reset:
            self._x_shape = X.shape[1:]
        elif X.shape[1:] != self._x_shape:
            raise ValueError(
                f"X has examples of shape {X.shape[1:]}, but {type(self).__name__} was fitted "
                f"on shape {self._x_shape}."
            )
        return X

    def _check_targets(self, y):
        """Return (Y one-hot/indicator float32, y as integer codes or None for multi-label)."""
        codes = self._encode_targets(y, min_classes=2)
        if self._multilabel:
            return np.asarray(codes, dtype=np.float32), None
        return np.eye(len(self.classes_), dtype=np.float32)[codes], codes

    def _sample_weight(self, sample_weight, X, y):
        """Sample weights times class weights (``y``: 1-D labels, None for multi-label)."""
        w = _check_sample_weight(sample_weight, X, dtype=np.float32)
        if self.class_weight is not None:
            if self._multilabel:
                raise ValueError("class_weight is not supported for multi-label (indicator) y.")
            w = w * compute_sample_weight(self.class_weight, y).astype(np.float32)
        return w

    # --------------------------------------------------------------------- training

    def _features(self, X):
        """Front-end output of ``X`` (a batch), as a fresh float32 array.

        Always a copy: TensorFlow may alias the memory of the arrays it is given, and a
        slice of a read-only memmap must not end up inside a tensor.
        """
        if getattr(self, "normalizer_", None) is not None:
            X = self.normalizer_.transform(X)
        if getattr(self, "frontend_", None) is not None:
            X = self.frontend_.transform(X)
        elif _int_pcm(X):
            X = as_float_audio(X)
        return np.array(X, dtype=np.float32)

    def _split(self, n, y_codes, groups, seed):
        """Train / validation row indices (validation empty without a split)."""
        everything = np.arange(n)
        if not self.validation_split:
            return everything, everything[:0]
        if groups is not None:
            splitter = GroupShuffleSplit(1, test_size=self.validation_split, random_state=seed)
        elif y_codes is not None and np.bincount(y_codes).min() >= 2:
            splitter = StratifiedShuffleSplit(1, test_size=self.validation_split, random_state=seed)
        else:
            splitter = ShuffleSplit(1, test_size=self.validation_split, random_state=seed)
        try:
            train, val = next(splitter.split(everything.reshape(-1, 1), y_codes, groups))
        except ValueError:  # the splitter's own "resulting train set will be empty"
            train, val = everything[:0], everything[:0]
        if len(train) == 0 or len(val) == 0:
            raise ValueError(
                f"validation_split={self.validation_split} leaves an empty training or "
                f"validation set with {n} examples"
                + (f" in {len(np.unique(groups))} groups." if groups is not None else ".")
            )
        return train, val

    def _learning_rate(self, steps_per_epoch):
        schedules = keras.optimizers.schedules
        total = max(1, self.epochs * steps_per_epoch)
        lr = float(self.learning_rate)
        if self.decay == "cosine":
            return schedules.CosineDecay(lr, decay_steps=total, alpha=self.decay_rate)
        if self.decay == "exponential":
            return schedules.ExponentialDecay(lr, decay_steps=total, decay_rate=self.decay_rate)
        if self.decay == "step":
            return schedules.ExponentialDecay(
                lr, decay_steps=self.decay_steps * steps_per_epoch, decay_rate=self.decay_rate, staircase=True
            )
        return lr

    def _compile(self, model, steps_per_epoch):
        smoothing = float(self.label_smoothing)
        if self._multilabel:
            loss = keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
        else:
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
        optimizer = _OPTIMIZERS[self.optimizer](self._learning_rate(steps_per_epoch))
        # TensorFlow: a graph without XLA (XLA's compile time does not pay on these small CPU steps).
        # JAX and the others: their compiler, without which every op of a step runs on its own
        # (seen on a GPU: 780 ms a step instead of milliseconds).
        jit = False if keras.backend.backend() == "tensorflow" else "auto"
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], jit_compile=jit,
                      run_eagerly=self.run_eagerly)

    def _callbacks(self, has_validation):
        monitor = "val_loss" if has_validation else "loss"
        callbacks = []
        patience = _patience(self.early_stopping, "early_stopping")
        if patience:
            callbacks.append(keras.callbacks.EarlyStopping(monitor, patience=patience, restore_best_weights=True))
        patience = _patience(self.reduce_lr_on_plateau, "reduce_lr_on_plateau")
        if patience:
            callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor, factor=0.5, patience=patience))
        return callbacks + list(self.callbacks or [])

    def _seed(self):
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def fit(self, X, y, groups=None, sample_weight=None, batch_targets=None):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_bins, n_frames)
            Raw audio or features.
        y : array-like of shape (n_clips,) or (n_clips, n_labels)
            Labels (strings or integers), or a multi-label indicator matrix (sigmoid
            outputs and binary cross-entropy).
        groups : array-like of shape (n_clips,), default=None
            Speaker of each clip: the validation split keeps speakers apart.
        sample_weight : array-like of shape (n_clips,), default=None
        batch_targets : callable, default=None
            Rewrites the targets of every training batch: called as
            ``batch_targets(X_batch, Y_batch)`` on TensorFlow tensors inside the
            ``tf.data`` graph (on NumPy arrays with another Keras backend), with the network's input (after augmentation, front end
            and mixup) and the one-hot or indicator targets, it returns targets of
            the same shape. Its optional attributes: ``check(estimator, X)``, called
            before training with this classifier (``classes_`` and front end
            fitted) and its first clips, to refuse targets it cannot compute
            (:func:`network_input` gives what the network sees); ``fingerprint``, a
            string naming what it computes (part of the checkpoint's fingerprint). Knowledge
            distillation (:class:`sklkws.ensemble.DistilledClassifier`,
            :class:`sklkws.ensemble.TeacherTargets`) is such a hook.

        Returns
        -------
        self : object
        """
        self._validate_params()
        if self.reduce_lr_on_plateau and self.decay is not None:
            raise ValueError(
                f"reduce_lr_on_plateau needs a constant base learning rate; set decay=None "
                f"(got decay={self.decay!r})."
            )
        X = self._check_X(X, reset=True)
        Y, y_codes = self._check_targets(y)
        check_consistent_length(X, Y)
        w = self._sample_weight(sample_weight, X, None if y_codes is None else self.classes_[y_codes])
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(X, groups)
        if batch_targets is not None and not callable(batch_targets):
            raise ValueError(f"batch_targets must be a callable (X_batch, Y_batch) -> targets, got "
                             f"{type(batch_targets).__name__}.")

        seed = self._seed()
        state, fingerprint = None, None
        if self.checkpoint_dir is not None:
            Path(self.checkpoint_dir).mkdir(parents=True, exist_ok=True)
            params = {k: v for k, v in self.get_params(deep=False).items() if k not in _NOT_FINGERPRINTED}
            if batch_targets is not None:  # other targets (another teacher) are another training run
                params["batch_targets"] = getattr(batch_targets, "fingerprint", batch_targets)
            # All of X, the targets, the weights and the groups (the validation split):
            # any change to what is trained on starts afresh.
            fingerprint = _checkpoint.fingerprint((X, Y, w, groups), params)
            state = _checkpoint.load_state(self.checkpoint_dir)
            if state is not None and state["fingerprint"] != fingerprint:
                warnings.warn(
                    f"Checkpoint in {self.checkpoint_dir} is from other data or parameters; "
                    "training from scratch and overwriting it.",
                    UserWarning,
                )
                state = None
            if state is not None:
                seed = state["seed"]

        # Stateless by contract: fitted on one clip, it validates and records the clip length.
        self.normalizer_ = None if self.normalizer is None else clone(self.normalizer).fit(X[:1])
        self.frontend_ = None
        if self.frontend is not None:
            # MelFeatures' fit records shapes only: one clip spares a float copy of integer PCM.
            stateless = _int_pcm(X) and type(self.frontend).__name__ == "MelFeatures"
            seen = X[:1] if stateless else X
            if self.normalizer_ is not None:
                seen = self.normalizer_.transform(seen)
            self.frontend_ = clone(self.frontend).fit(seen, None if stateless else y)
        train, val = self._split(len(X), y_codes, groups, seed)
        feature_shape = self._features(X[:1]).shape[1:]
        batches = TrainingBatches(
            X, Y, w, rows=train, batch_size=self.batch_size, seed=seed, augment=self.augment,
            feature_augment=self.feature_augment,
            normalize=self.normalizer_.transform if self.normalizer_ is not None else None,
            transform=self.frontend_.transform if self.frontend_ is not None else None,
            mixup_alpha=float(self.mixup_alpha), last_epoch=self.epochs,
        )
        if batch_targets is not None and hasattr(batch_targets, "check"):
            batch_targets.check(self, X[:4])
        validation = None
        if len(val):
            Xv = np.concatenate([self._features(X[val[s]]) for s in batch_slices(len(val), 1024)])
            validation = (Xv, Y[val])

        # keras.utils.set_random_seed seeds Python's, NumPy's and TensorFlow's global
        # generators: process-wide state that a fit in another thread would draw from
        # too. Fits therefore train one at a time (see _serial_fit).
        with _serial_fit(type(self).__name__), _own_default_seeds(seed):
            keras.utils.set_random_seed(seed)
            model, history, initial_epoch, state = self._initial_model(state, feature_shape, batches.steps_per_epoch)
            callbacks = self._callbacks(validation is not None)
            checkpoint = None
            if self.checkpoint_dir is not None:
                checkpoint = _checkpoint.EpochCheckpoint(self.checkpoint_dir, fingerprint, seed, history)
                callbacks.append(checkpoint)
            if state is None or not state["complete"]:
                batches.first_epoch = initial_epoch
                data, data_callbacks = batches.dataset(feature_shape, batch_targets, input_workers(self.n_jobs))
                logs = model.fit(
                    data,
                    steps_per_epoch=batches.steps_per_epoch, epochs=self.epochs, initial_epoch=initial_epoch,
                    validation_data=validation, validation_batch_size=self.batch_size,
                    callbacks=data_callbacks + callbacks,
                    verbose=self.verbose, shuffle=False,  # TrainingBatches shuffles, reproducibly
                ).history
                history = checkpoint.history if checkpoint is not None else {
                    k: [float(v) for v in vals] for k, vals in logs.items()
                }
        self.model_ = model
        self.history_ = history
        self.n_epochs_ = len(next(iter(history.values()), []))
        return self

    def _initial_model(self, state, feature_shape, steps_per_epoch):
        """(model, history so far, first epoch, state): resumed, warm-started or fresh.

        ``state`` comes back None when its model could not be loaded (set aside, with a
        warning): training then starts afresh.
        """
        if state is not None:
            model = _checkpoint.load_checkpoint_model(self.checkpoint_dir, state)
            if model is not None:
                model.run_eagerly = self.run_eagerly
                if self.verbose:
                    print(f"Resuming from {self.checkpoint_dir} after epoch {state['epoch'] + 1}.")
                return model, state["history"], state["epoch"] + 1, state
            state = None
        n_outputs = len(self.classes_)
        old = getattr(self, "model_", None) if self.warm_start else None
        if old is not None and (tuple(old.input_shape[1:]) != tuple(feature_shape)
                                or old.output_shape[-1] != n_outputs):
            raise ValueError(
                f"warm_start needs the same input shape and number of classes: the fitted model takes "
                f"{tuple(old.input_shape[1:])} -> {old.output_shape[-1]}, the new data gives "
                f"{tuple(feature_shape)} -> {n_outputs}."
            )
        if old is not None:
            model = old
        else:
            hyper = dict(self.arch_params or {})
            hyper["output_activation"] = "sigmoid" if self._multilabel else "softmax"
            for name in ("l2", "dropout"):
                if getattr(self, name) is not None:
                    hyper[name] = float(getattr(self, name))
            model = build_model(self._resolve_arch(feature_shape), feature_shape, n_outputs,
                                precision=self.precision, **hyper)
        self._compile(model, steps_per_epoch)
        return model, {}, 0, None

    # ------------------------------------------------------------------- prediction

    def _batch_size_predict(self):
        return max(self.batch_size, 256)

    def predict_proba(self, X):
        """Class probabilities (softmax), or label probabilities (sigmoid) for multi-label.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_bins, n_frames)

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
            Columns follow ``classes_``; rows sum to 1 unless multi-label.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        out = np.empty((len(X), len(self.classes_)), dtype=np.float64)
        for rows in batch_slices(len(X), self._batch_size_predict()):
            out[rows] = self.model_.predict_on_batch(self._features(X[rows]))
        if not self._multilabel:
            out /= out.sum(axis=1, keepdims=True)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags
