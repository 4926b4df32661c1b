"""The tagging seed's neural stacker over member probabilities."""

import numbers

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .._compat import Interval
from .._validation import batch_slices
from ..models._checkpoint import PicklesKerasModel
from ..models._labels import LabelEncodingMixin


def _member_average(x, kernel):
    """``(..., n_classes, n_members)`` times per-class member weights, summed over members."""
    return keras.ops.sum(x * kernel, axis=-1)


def _squash(x, shift, normalize):
    """The seed's ``(tanh(x - shift) + 1) / 2``, renormalised over the last axis if ``normalize``."""
    y = (keras.ops.tanh(x - shift) + 1.0) * 0.5
    if normalize:
        y = y / keras.ops.maximum(keras.ops.sum(y, axis=-1, keepdims=True), 1e-12)
    return y


@keras.saving.register_keras_serializable(package="sklkws")
class SumToOne(keras.constraints.Constraint):
    """Keep weights non-negative and summing to one along the last axis (uniform if all vanish)."""

    def __call__(self, w):
        w = keras.ops.relu(w)
        total = keras.ops.sum(w, axis=-1, keepdims=True)
        uniform = keras.ops.ones_like(w) / keras.ops.cast(keras.ops.shape(w)[-1], w.dtype)
        return keras.ops.where(total > 0, w / keras.ops.maximum(total, 1e-12), uniform)


@keras.saving.register_keras_serializable(package="sklkws")
class MemberWeights(keras.layers.Layer):
    """Per-class weighted average of ensemble members: what the seed's LocallyConnected1D did.

    Input ``(batch, n_classes, n_members)``, output ``(batch, n_classes)``; weights of
    shape ``(n_classes, n_members)`` start on the last member (as in the seed) and
    stay non-negative, summing to one per class (:class:`SumToOne`).
    """

    def build(self, input_shape):
        n_classes, n_members = input_shape[-2:]
        start = np.zeros((n_classes, n_members), dtype="float32")
        start[:, -1] = 1.0
        self.kernel = self.add_weight(
            name="kernel", shape=(n_classes, n_members),
            initializer=lambda shape, dtype=None: keras.ops.convert_to_tensor(start, dtype=dtype),
            constraint=SumToOne(),
        )

    def call(self, x):
        return _member_average(x, self.kernel)


@keras.saving.register_keras_serializable(package="sklkws")
class TanhSquash(keras.layers.Layer):
    """The seed's output squashing ``(tanh(x - shift) + 1) / 2``, optionally renormalised to sum to one."""

    def __init__(self, shift=1.6, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.shift = float(shift)
        self.normalize = bool(normalize)

    def call(self, x):
        return _squash(x, self.shift, self.normalize)

    def get_config(self):
        return {**super().get_config(), "shift": self.shift, "normalize": self.normalize}


@keras.saving.register_keras_serializable(package="sklkws")
class TowardsIdentity(keras.regularizers.Regularizer):
    """L2 penalty ``l2 * ||W - I||^2`` pulling a square kernel towards the identity."""

    def __init__(self, l2=0.0):
        self.l2 = float(l2)

    def __call__(self, w):
        return self.l2 * keras.ops.sum(keras.ops.square(w - keras.ops.eye(w.shape[0], dtype=w.dtype)))

    def get_config(self):
        return {"l2": self.l2}


def build_stacker(n_outputs, n_members, *, shift=1.6, normalize=False, mixing_l2=0.0):
    """The seed's stacking network: per-class member weights, label-mixing dense, squashing.

    Parameters
    ----------
    n_outputs : int
        Classes (or labels).
    n_members : int
        Ensemble members.
    shift : float, default=1.6
        Offset inside the squashing ``(tanh(x - shift) + 1) / 2``.
    normalize : bool, default=False
        Renormalise outputs to a distribution (single-label problems).
    mixing_l2 : float, default=0.0
        Weight of :class:`TowardsIdentity` on the label-mixing layer (0: none, as in the seed).

    Returns
    -------
    model : keras.Model
        Input ``(n_outputs, n_members)``, output ``(n_outputs,)``.
    """
    inputs = keras.Input(shape=(n_outputs, n_members), name="member_probabilities")
    x = MemberWeights(name="member_weights")(inputs)
    # Identity start: the stacker begins as the chosen member and learns label correlations from there.
    x = keras.layers.Dense(n_outputs, use_bias=False, kernel_initializer="identity", name="label_mixing",
                           kernel_regularizer=TowardsIdentity(mixing_l2) if mixing_l2 else None)(x)
    outputs = TanhSquash(shift, normalize, name="squash")(x)
    return keras.Model(inputs, outputs, name="neural_stacker")


def _train(model, loss, optimizer, X, Y, w, *, epochs, batch_size, rng, verbose=0):
    """Minibatch training with one graph call per epoch; returns the mean loss of each epoch.

    ``model.fit`` spends milliseconds per step on a network this small; here an
    epoch's steps run in one ``tf.while_loop`` and only the shuffle is numpy. The loop is
    TensorFlow's, so it needs Keras's TensorFlow backend.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"NeuralStacker trains with TensorFlow's graph loop; Keras runs on {keras.backend.backend()!r}. "
            "Set KERAS_BACKEND=tensorflow before importing keras (or average the members instead)."
        )
    import tensorflow as tf

    X, Y, w = (tf.constant(a) for a in (X, Y, w))
    n = int(X.shape[0])
    steps = -(-n // batch_size)
    optimizer.build(model.trainable_variables)

    def run_epoch(order):
        def body(step, total):
            rows = order[step * batch_size : (step + 1) * batch_size]
            with tf.GradientTape() as tape:
                value = loss(tf.gather(Y, rows), model(tf.gather(X, rows), training=True),
                             sample_weight=tf.gather(w, rows))
                if model.losses:  # the regularisers
                    value += tf.add_n(model.losses)
            optimizer.apply(tape.gradient(value, model.trainable_variables), model.trainable_variables)
            return step + 1, total + value

        _, total = tf.while_loop(lambda step, total: step < steps, body, (tf.constant(0), tf.constant(0.0)))
        return total / steps

    # Tracing costs about a second: not worth it for a handful of steps.
    epoch = run_epoch if epochs * steps <= 32 else tf.function(run_epoch, autograph=False)
    history = []
    for k in range(epochs):
        history.append(float(epoch(tf.constant(rng.permutation(n), dtype=tf.int32))))
        if verbose:
            print(f"epoch {k + 1}/{epochs}: loss {history[-1]:.4f}")
    return history


class NeuralStacker(LabelEncodingMixin, PicklesKerasModel, ClassifierMixin, BaseEstimator):
    """The tagging seed's neural stacker over the probabilities of several models.

    For every class, a weighted average of the members' probabilities (weights
    non-negative, summing to one per class, starting on the last member); then a
    dense layer without bias, initialised to the identity, that learns label
    correlations; then the seed's squashing ``(tanh(x - shift) + 1) / 2``, which maps
    the identity start's [0, 1] to a small positive range the dense layer learns to
    stretch. Trained with binary cross-entropy for multi-label and binary targets;
    for single-label targets with three or more classes the squashed outputs are
    renormalised to a distribution and trained with categorical cross-entropy.

    Input is what ``StackingClassifier(stack_method="predict_proba")`` gives its final
    estimator, ``(n, n_members * n_classes)`` member by member (for binary targets
    one column per member, the second class's probability), or
    ``(n, n_classes, n_members)``.

    Parameters
    ----------
    n_members : int, default=None
        Members in 2-D input; inferred as ``n_columns // n_classes`` when None. Give
        it for binary targets with both probability columns per member
        (``n_columns == 2 * n_members``).
    shift : float, default=1.6
        The seed's offset in the squashing.
    mixing_l2 : float, default=0.0
        L2 pull of the label-mixing weights towards the identity (:class:`TowardsIdentity`);
        0 is the seed's free dense layer. On small stacking sets the free layer can
        cost lwlrap (see ``docs/tagging.md``); a strong pull leaves the per-class
        member weights.
    epochs : int, default=100
    batch_size : int, default=32
    learning_rate : float, default=3e-3
        Adam's learning rate.
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None
        Seeds shuffling (and TensorFlow); an int gives the same model on CPU.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for indicator targets).
    n_members_ : int
        Members seen in ``fit``.
    member_weights_ : ndarray of shape (n_outputs, n_members_)
        Learned per-class member weights (rows sum to one); one row for binary targets.
    model_ : keras.Model
        The network.
    history_ : dict of str -> list of float
        Per-epoch ``loss``.
    n_features_in_ : int
        Columns of 2-D input (``n_classes`` for 3-D input).

    See Also
    --------
    sklearn.ensemble.StackingClassifier : produces the out-of-fold member probabilities.

    Notes
    -----
    ``StackingClassifier.predict_proba`` assumes a multi-label final estimator
    returns a list of per-label arrays; for multi-label stacking call
    ``stack.final_estimator_.predict_proba(stack.transform(X))`` instead (``fit``,
    ``predict`` and ``transform`` work as usual).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = (rng.random((200, 4)) < 0.3).astype(int)
    >>> members = [np.clip(Y + rng.normal(0, s, Y.shape), 0, 1) for s in (0.6, 0.3)]
    >>> P = np.stack(members, axis=-1)  # (n, n_labels, n_members)
    >>> stacker = NeuralStacker(epochs=20, random_state=0).fit(P, Y)
    >>> stacker.member_weights_.shape, stacker.predict_proba(P[:2]).shape
    ((4, 2), (2, 4))
    """

    _parameter_constraints = {
        "n_members": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "shift": [Interval(numbers.Real, None, None, closed="neither")],
        "mixing_l2": [Interval(numbers.Real, 0, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, n_members=None, *, shift=1.6, mixing_l2=0.0, epochs=100, batch_size=32, learning_rate=3e-3,
                 verbose=0, random_state=None):
        self.n_members = n_members
        self.shift = shift
        self.mixing_l2 = mixing_l2
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.verbose = verbose
        self.random_state = random_state

    def _targets(self, y):
        """Targets for the network: indicator/one-hot, or one column for binary."""
        codes = self._encode_targets(y)
        if self._multilabel:
            self._kind = "multilabel"
            return np.asarray(codes, dtype=np.float32)
        if len(self.classes_) == 2:
            self._kind = "binary"
            return codes[:, None].astype(np.float32)
        self._kind = "multiclass"
        return np.eye(len(self.classes_), dtype=np.float32)[codes]

    def _n_outputs(self):
        return 1 if self._kind == "binary" else len(self.classes_)

    def _members(self, X, *, reset):
        """Validate ``X`` and return it as ``(n, n_outputs, n_members)`` float32."""
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=[np.float32, np.float64])
        n_out = self._n_outputs()
        if X.ndim == 3:
            per = X.shape[1]
            if per != n_out and not (self._kind == "binary" and per == 2):
                raise ValueError(f"X has shape {X.shape}: expected (n_samples, {n_out}, n_members) for "
                                 f"{len(self.classes_)} classes.")
            members = X[:, -n_out:, :]
        elif X.ndim == 2:
            width = X.shape[1]
            per = n_out
            if self._kind == "binary" and self.n_members is not None and width == 2 * self.n_members:
                per = 2  # both probability columns per member: keep the second
            if width % per or (self.n_members is not None and width != per * self.n_members):
                expected = f"{self.n_members} x {per}" if self.n_members is not None else f"n_members x {per}"
                raise ValueError(
                    f"X has {width} columns; stacked member probabilities need {expected} columns "
                    f"({len(self.classes_)} classes, member by member, as StackingClassifier gives them)."
                )
            members = X.reshape(len(X), width // per, per).transpose(0, 2, 1)[:, -n_out:, :]
        else:
            raise ValueError(f"X must be 2-D (n, n_members * n_classes) or 3-D (n, n_classes, n_members), "
                             f"got {X.ndim}-D.")
        if not reset and members.shape[2] != self.n_members_:
            raise ValueError(f"X holds {members.shape[2]} members, but {type(self).__name__} was fitted on "
                             f"{self.n_members_}.")
        return np.ascontiguousarray(members, dtype=np.float32)

    def _build(self):
        return build_stacker(self._n_outputs(), self.n_members_, shift=self.shift,
                             normalize=self._kind == "multiclass", mixing_l2=self.mixing_l2)

    def fit(self, X, y, sample_weight=None):
        """Train the stacker on member probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members * n_classes) or (n_samples, n_classes, n_members)
            Member probabilities (out of fold, for a fair stacker).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        self._validate_params()
        Y = self._targets(y)
        members = self._members(X, reset=True)
        check_consistent_length(members, Y)
        w = _check_sample_weight(sample_weight, members, dtype=np.float32)
        self.n_members_ = members.shape[2]
        rng = check_random_state(self.random_state)
        model = self._build()  # deterministic start (identity and last-member weights): only shuffling is random
        multiclass = self._kind == "multiclass"
        loss = keras.losses.CategoricalCrossentropy() if multiclass else keras.losses.BinaryCrossentropy()
        losses = _train(model, loss, keras.optimizers.Adam(self.learning_rate), members, Y, w,
                        epochs=self.epochs, batch_size=self.batch_size, rng=rng, verbose=self.verbose)
        self.model_ = model
        self.history_ = {"loss": losses}
        self.member_weights_ = keras.ops.convert_to_numpy(model.get_layer("member_weights").kernel)
        return self

    def predict_proba(self, X):
        """Stacked probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_members * n_classes) or (n_samples, n_classes, n_members)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one for single-label targets; per-label values for multi-label.
        """
        check_is_fitted(self)
        members = self._members(X, reset=False)
        # The network's layers in float64 on its weights: a float32 forward pass can differ by an
        # ulp with a row's place in the batch (vectorised kernels), which sklearn's sample-order
        # check rejects; in float64 the rounding stays far below its tolerance.
        kernel, mixing = (np.asarray(keras.ops.convert_to_numpy(self.model_.get_layer(name).kernel), np.float64)
                          for name in ("member_weights", "label_mixing"))
        squash = self.model_.get_layer("squash")
        out = np.empty((len(members), self._n_outputs()))
        for rows in batch_slices(len(members), 4096):
            x = _member_average(members[rows].astype(np.float64), kernel) @ mixing
            out[rows] = keras.ops.convert_to_numpy(_squash(x, squash.shift, squash.normalize))
        if self._kind == "binary":
            return np.hstack([1.0 - out, out])
        if self._kind == "multiclass":
            out /= out.sum(axis=1, keepdims=True)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags
