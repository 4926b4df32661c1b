"""Probabilities to labels: the one decision rule every sklkws classifier predicts with.

numpy only, so the device side (:class:`~sklkws.device.CompactClassifier`) and the
training side (the Keras classifiers, the stacker, test-time augmentation) share it.
"""

import numpy as np

__all__ = ["MULTILABEL_THRESHOLD", "proba_to_labels"]

#: A label is predicted for a clip when its independent (sigmoid) probability reaches this.
MULTILABEL_THRESHOLD = 0.5


def proba_to_labels(proba, classes, multilabel=False):
    """The predicted labels of a batch of probabilities.

    Parameters
    ----------
    proba : array-like of shape (n_clips, n_classes)
        Class probabilities (columns in ``classes`` order), or independent label
        probabilities for multi-label output.
    classes : array-like of shape (n_classes,)
        The labels of the columns (``classes_``).
    multilabel : bool, default=False
        True for indicator output: every label whose probability is at least
        :data:`MULTILABEL_THRESHOLD`.

    Returns
    -------
    y : ndarray of shape (n_clips,) or (n_clips, n_classes)
        The most probable class of each clip (ties: the first column), or an integer
        indicator matrix for multi-label output.

    Examples
    --------
    >>> import numpy as np
    >>> proba_to_labels(np.array([[0.2, 0.8], [0.6, 0.4]]), np.array(["no", "yes"])).tolist()
    ['yes', 'no']
    >>> proba_to_labels(np.array([[0.7, 0.5, 0.1]]), np.arange(3), multilabel=True).tolist()
    [[1, 1, 0]]
    """
    proba = np.asarray(proba)
    if multilabel:
        return (proba >= MULTILABEL_THRESHOLD).astype(int)
    return np.asarray(classes)[np.argmax(proba, axis=1)]
