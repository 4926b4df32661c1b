"""Knowledge distillation: one network, small enough for the device, trained on an ensemble's probabilities.

:class:`DistilledClassifier` trains a teacher (a Keras classifier or a soft
``VotingClassifier`` of several), then a student network whose targets on every
training batch mix the labels with the teacher's probabilities on exactly that
augmented batch (Hinton et al., 2015; "consistent teaching" in Beyer et al., 2022).
The student alone is what predicts, is exported and ships.

Importing this module imports Keras (through :mod:`sklkws.models`).
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import VotingClassifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ._compat import HasMethods, Interval
from .models import KerasClassifierBase

__all__ = ["DistilledClassifier"]


def _members(teacher):
    """The fitted Keras classifiers whose mean probabilities teach."""
    members = teacher.estimators_ if isinstance(teacher, VotingClassifier) else [teacher]
    for member in members:
        if not isinstance(member, KerasClassifierBase):
            raise ValueError(
                f"DistilledClassifier's teacher must be an sklkws Keras classifier or a VotingClassifier of "
                f"them, got a member of type {type(member).__name__}. Put preprocessing shared by teacher and "
                "student in a Pipeline before the DistilledClassifier; a classifier's own front end goes in "
                "its frontend= parameter."
            )
    return members


class DistilledClassifier(ClassifierMixin, BaseEstimator):
    """Train a teacher, then a student network that learns from the teacher's probabilities.

    ``fit`` fits a clone of ``teacher`` on ``(X, y)``, then a clone of ``student``
    whose target for every training batch, after the student's own augmentation
    and front end, is ``(1 - teacher_weight) * labels + teacher_weight * p``, with
    ``p`` the teacher's (members' mean) probabilities on that very batch. The
    teacher sees what the student sees, so it can say how much of "go" is left in a
    clip buried in noise or shifted half out of the window. ``predict`` and
    ``predict_proba`` use the student only; the exporter exports it.

    Both must be sklkws Keras classifiers with front ends that give the same
    features (checked); preprocessing they share belongs in a
    :class:`~sklearn.pipeline.Pipeline` before this estimator.

    Parameters
    ----------
    teacher : KerasClassifierBase or VotingClassifier of them
        The model distilled; for an ensemble, its members' mean probabilities
        teach (whatever its ``voting``).
    student : KerasClassifierBase
        The network trained to imitate it (its augmentation, epochs and schedule
        are its own).
    teacher_weight : float, default=0.5
        Weight of the teacher's probabilities in the student's targets; 0 trains
        on the labels alone, 1 on the teacher alone.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for indicator targets).
    teacher_ : estimator
        The fitted teacher (trained on encoded labels ``0 .. n_classes - 1``).
    student_ : KerasClassifierBase
        The fitted student (encoded labels likewise); its ``model_`` is the network
        to deploy.
    n_features_in_ : int
        Samples per clip (or bins for feature input).

    See Also
    --------
    sklearn.ensemble.VotingClassifier : the ensemble to distil.
    sklkws.recipes.recommended_pipeline : its ``distill=True`` distils the recommended vote.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import VotingClassifier
    >>> from sklkws.distillation import DistilledClassifier
    >>> from sklkws.models import KerasResNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 200)).astype(np.float32)
    >>> y = np.array(["yes", "no"] * 20)
    >>> net = KerasResNetClassifier(arch_params={"n_blocks": 1, "filters": 4}, epochs=1, random_state=0)
    >>> vote = VotingClassifier([("a", net), ("b", net)], voting="soft")
    >>> model = DistilledClassifier(vote, net).fit(X, y)
    >>> model.classes_, model.predict(X[:2]).shape
    (array(['no', 'yes'], dtype='<U3'), (2,))
    """

    _parameter_constraints = {
        "teacher": [HasMethods(["fit", "predict_proba"])],
        "student": [HasMethods(["fit", "predict_proba"])],
        "teacher_weight": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(self, teacher, student, *, teacher_weight=0.5):
        self.teacher = teacher
        self.student = student
        self.teacher_weight = teacher_weight

    def fit(self, X, y, sample_weight=None):
        """Fit the teacher, then the student on labels mixed with the teacher's probabilities.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_bins, n_frames)
        y : array-like of shape (n_clips,) or (n_clips, n_labels)
        sample_weight : array-like of shape (n_clips,), default=None
            Passed to both fits.

        Returns
        -------
        self : object
        """
        self._validate_params()
        if not isinstance(self.student, KerasClassifierBase):
            raise ValueError(
                f"DistilledClassifier's student must be an sklkws Keras classifier, got {type(self.student).__name__}."
            )
        if y is None:
            raise ValueError("DistilledClassifier requires y to be passed, but the target y is None.")
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        check_classification_targets(y)
        if type_of_target(y) == "multilabel-indicator":
            self.classes_, codes = np.arange(y.shape[1]), y
        else:
            encoder = LabelEncoder().fit(column_or_1d(y, warn=True))
            self.classes_, codes = encoder.classes_, encoder.transform(column_or_1d(y))
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.teacher_ = clone(self.teacher).fit(X, codes, **weights)
        self.student_ = clone(self.student).fit(
            X, codes, teacher=_members(self.teacher_), teacher_weight=float(self.teacher_weight), **weights
        )
        self.n_features_in_ = self.student_.n_features_in_
        return self

    def predict_proba(self, X):
        """The student's class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_bins, n_frames)

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self)
        return self.student_.predict_proba(X)

    def predict(self, X):
        """The student's most probable class (labels with probability >= 0.5 for multi-label).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples) or (n_clips, n_bins, n_frames)

        Returns
        -------
        y : ndarray of shape (n_clips,) or (n_clips, n_labels)
        """
        check_is_fitted(self)
        predicted = self.student_.predict(X)  # codes 0 .. n_classes - 1, or an indicator matrix
        return predicted if self.student_._multilabel else self.classes_[predicted]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        student, teacher = self.student.__sklearn_tags__(), self.teacher.__sklearn_tags__()
        tags.input_tags = student.input_tags
        # Multi-label only when both support it (a VotingClassifier does not).
        tags.classifier_tags.multi_label = bool(
            student.classifier_tags and teacher.classifier_tags
            and student.classifier_tags.multi_label and teacher.classifier_tags.multi_label
        )
        tags.non_deterministic = student.non_deterministic or teacher.non_deterministic
        return tags
