"""Label encoding and decoding, written once for every sklkws classifier of the training side.

:func:`check_targets` validates ``y`` and says whether it is a multi-label indicator
matrix; :class:`LabelEncodingMixin` turns it into integer codes with ``classes_`` in
``fit`` and turns probabilities back into labels in ``predict`` (through
:func:`sklkws.device.proba_to_labels`, the rule the device side predicts with too).
"""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d

from .._validation import check_labels
from ..device._labels import proba_to_labels

__all__ = ["LabelEncodingMixin", "check_targets"]


def check_targets(y, estimator):
    """Validate classification targets: ``(y, multilabel)``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Labels, or a multi-label indicator matrix.
    estimator : object
        Named in the messages.

    Returns
    -------
    y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        1-D labels (a column vector is raveled with scikit-learn's warning), or the
        indicator matrix as it was given.
    multilabel : bool
        Whether ``y`` is a multi-label indicator matrix.

    Raises
    ------
    ValueError
        If ``y`` is None, holds rows without a label (None, NaN), or is not a
        classification target.
    """
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")
    y = check_array(check_labels(y, estimator), ensure_2d=False, dtype=None, input_name="y")
    check_classification_targets(y)
    if type_of_target(y) == "multilabel-indicator":
        return y, True
    return column_or_1d(y, warn=True), False


class LabelEncodingMixin:
    """``classes_`` and integer codes in ``fit``, labels from probabilities in ``predict``.

    Sets ``classes_`` (sorted unique labels, or ``arange(n_labels)`` for indicator
    targets) and the private flag ``_multilabel``, which the exporter reads to
    describe a model's outputs.
    """

    def _encode_targets(self, y, *, min_classes=1):
        """Validate ``y``, set ``classes_`` and ``_multilabel``; return codes or the indicator matrix.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        min_classes : {1, 2}, default=1
            Fewest distinct labels the estimator can train on (single-label ``y``).

        Returns
        -------
        codes : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Integer codes into ``classes_``, or the indicator matrix unchanged.
        """
        y, self._multilabel = check_targets(y, self)
        if self._multilabel:
            self.classes_ = np.arange(y.shape[1])
            return y
        # What LabelEncoder does (sorted unique labels, codes into them), minus its own re-validation.
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < min_classes:
            raise ValueError(
                f"{type(self).__name__} needs at least {min_classes} classes to train; y has only one class, "
                f"{self.classes_[0]!r}."
            )
        return codes.reshape(-1)

    def _decode(self, proba):
        """Labels of a batch of probabilities whose columns follow ``classes_``."""
        return proba_to_labels(proba, self.classes_, self._multilabel)

    def predict(self, X):
        """Most probable class, or every label with probability of at least 0.5 for multi-label.

        Parameters
        ----------
        X : array-like
            What the estimator's ``predict_proba`` takes.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        return self._decode(self.predict_proba(X))
