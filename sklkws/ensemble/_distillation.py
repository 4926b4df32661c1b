"""Knowledge distillation: one network, small enough for the device, trained on an ensemble's probabilities.

:class:`DistilledClassifier` trains a teacher (a Keras classifier or a soft
``VotingClassifier`` of several), then a student network whose targets on every
training batch mix the labels with the teacher's probabilities on exactly that
augmented batch (Hinton et al., 2015; "consistent teaching" in Beyer et al., 2022).
The student alone is what predicts, is exported and ships.

The mixing is :class:`TeacherTargets`, handed to the student's ``fit`` as its
``batch_targets`` hook: the Keras classifiers know nothing of teachers.

Importing this module imports Keras (through :mod:`sklkws.models`).
"""

import numbers

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import VotingClassifier
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, Interval
from .._validation import as_float_audio
from ..models import KerasClassifierBase
from ..models._base import network_input
from ..models._checkpoint import weights_digest
from ..models._labels import LabelEncodingMixin

__all__ = ["DistilledClassifier", "TeacherTargets"]


def _front_end_features(classifier, X):
    """What the network of an unfitted Keras classifier would see for clips ``X``: its normalizer and
    front end (clones) fitted on ``X`` and applied, as in its ``fit`` (cheap: a few clips)."""
    normalizer = None if classifier.normalizer is None else clone(classifier.normalizer).fit(X)
    seen = X if normalizer is None else normalizer.transform(X)
    frontend = None if classifier.frontend is None else clone(classifier.frontend).fit(seen)
    if frontend is not None:
        seen = frontend.transform(seen)
    elif np.asarray(seen).dtype.kind == "i":
        seen = as_float_audio(np.asarray(seen))
    return np.asarray(seen, dtype=np.float32)


def _check_same_features(members, student, X):
    """Refuse, before anything is trained, teachers whose front end gives other features than the student's."""
    clips = X[:4]
    wanted = _front_end_features(student, clips)
    for i, member in enumerate(members):
        seen = _front_end_features(member, clips)
        if seen.shape != wanted.shape or not np.allclose(seen, wanted, rtol=1e-4, atol=1e-4):
            raise ValueError(
                f"teacher {i} ({type(member).__name__})'s front end gives other features (shape {seen.shape[1:]}) "
                f"than the student's (shape {wanted.shape[1:]}): a teacher must see what the student sees. Give "
                "every teacher the student's normalizer and frontend (checked before anything is trained)."
            )


def _members(teacher):
    """The Keras classifiers whose mean probabilities teach (a VotingClassifier's fitted or given ones)."""
    if isinstance(teacher, VotingClassifier):
        fitted = getattr(teacher, "estimators_", None)
        members = fitted if fitted is not None else [m for _, m in teacher.estimators if m != "drop"]
    else:
        members = [teacher]
    for member in members:
        if not isinstance(member, KerasClassifierBase):
            raise ValueError(
                f"DistilledClassifier's teacher must be an sklkws Keras classifier or a VotingClassifier of "
                f"them, got a member of type {type(member).__name__}. Put preprocessing shared by teacher and "
                "student in a Pipeline before the DistilledClassifier; a classifier's own front end goes in "
                "its frontend= parameter."
            )
    return members


class TeacherTargets:
    """Targets mixed with fitted teachers' probabilities: the ``batch_targets`` hook of distillation.

    Passed to a Keras classifier's ``fit(..., batch_targets=TeacherTargets(teachers))``,
    it makes the target of every training batch ``(1 - teacher_weight) * labels +
    teacher_weight * p``, with ``p`` the teachers' mean probabilities on exactly the
    augmented batch the student sees. :class:`DistilledClassifier` trains its
    teacher and then its student this way; use this class directly to distil
    classifiers that are already fitted.

    Parameters
    ----------
    teachers : KerasClassifierBase or list of them
        Fitted sklkws Keras classifiers with the student's classes and a front end
        that gives the student's features (both checked when the student's ``fit``
        starts).
    teacher_weight : float, default=0.5
        Weight of the teachers' probabilities, in [0, 1]; the labels get
        ``1 - teacher_weight``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklkws.models import KerasResNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 200)).astype(np.float32)
    >>> y = np.array(["yes", "no"] * 20)
    >>> net = KerasResNetClassifier(arch_params={"n_blocks": 1, "filters": 4}, epochs=1, random_state=0)
    >>> teacher = KerasResNetClassifier(**net.get_params(deep=False)).fit(X, y)
    >>> student = net.fit(X, y, batch_targets=TeacherTargets([teacher], teacher_weight=0.8))
    >>> student.predict(X[:2]).shape
    (2,)
    """

    def __init__(self, teachers, teacher_weight=0.5):
        teachers = list(teachers) if isinstance(teachers, (list, tuple)) else [teachers]
        if not teachers:
            raise ValueError("teachers must hold at least one fitted classifier, got an empty list.")
        if isinstance(teacher_weight, bool) or not isinstance(teacher_weight, numbers.Real) \
                or not 0 <= teacher_weight <= 1:
            raise ValueError(f"teacher_weight must be a number in [0, 1], got {teacher_weight!r}.")
        self.teachers = teachers
        self.teacher_weight = float(teacher_weight)

    @property
    def fingerprint(self):
        """The weight and every teacher's network weights: another teacher is another training run."""
        return repr((self.teacher_weight, [weights_digest(m) for m in self.teachers]))

    def check(self, estimator, X):
        """Refuse teachers that are not fitted, predict other classes, or see other features than ``estimator``.

        Parameters
        ----------
        estimator : KerasClassifierBase
            The student, inside its ``fit`` (``classes_`` and front end fitted).
        X : ndarray
            A few of its training clips.

        Raises
        ------
        ValueError
            Naming the teacher and what differs.
        """
        seen_by_student = network_input(estimator, X)
        classes = np.asarray(estimator.classes_)
        for i, member in enumerate(self.teachers):
            name = f"teacher {i} ({type(member).__name__})"
            if not isinstance(member, KerasClassifierBase) or not isinstance(getattr(member, "model_", None),
                                                                            keras.Model):
                raise ValueError(f"{name} is not a fitted sklkws Keras classifier (no model_).")
            if not np.array_equal(np.asarray(member.classes_), classes):
                raise ValueError(
                    f"{name} predicts classes {np.asarray(member.classes_).tolist()}, not {classes.tolist()}."
                )
            seen = network_input(member, X)
            if seen.shape != seen_by_student.shape or not np.allclose(seen, seen_by_student, rtol=1e-4, atol=1e-4):
                raise ValueError(
                    f"{name}'s front end gives other features (shape {seen.shape[1:]}) than this "
                    f"classifier's (shape {seen_by_student.shape[1:]}): a teacher must see what the student sees."
                )

    def __call__(self, X, Y):
        """``(1 - teacher_weight) * Y + teacher_weight * mean(teacher(X))``.

        Called by the student's input pipeline (inside the ``tf.data`` graph on tensors
        with TensorFlow, on NumPy batches with another Keras backend), outside the
        training step's gradient tape: the teachers are never trained.
        """
        soft = sum(keras.ops.cast(m.model_(X, training=False), "float32") for m in self.teachers)
        soft = soft / len(self.teachers)
        return (1.0 - self.teacher_weight) * Y + self.teacher_weight * soft

    def __repr__(self):
        return f"TeacherTargets({len(self.teachers)} teacher(s), teacher_weight={self.teacher_weight})"

class DistilledClassifier(LabelEncodingMixin, ClassifierMixin, BaseEstimator):
    """Train a teacher, then a student network that learns from the teacher's probabilities.

    ``fit`` fits a clone of ``teacher`` on ``(X, y)``, then a clone of ``student``
    (with :class:`TeacherTargets` as its ``batch_targets``) whose target for every
    training batch, after the student's own augmentation and front end, is
    ``(1 - teacher_weight) * labels + teacher_weight * p``, with ``p`` the
    teacher's (members' mean) probabilities on that very batch. The
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
    >>> from sklkws.ensemble import DistilledClassifier
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
        # Validated here, once: the feature check below reads its first clips before anything trains.
        X = check_array(X, allow_nd=True, dtype=None)
        _check_same_features(_members(self.teacher), self.student, X)
        codes = self._encode_targets(y)
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.teacher_ = clone(self.teacher).fit(X, codes, **weights)
        targets = TeacherTargets(_members(self.teacher_), self.teacher_weight)
        self.student_ = clone(self.student).fit(X, codes, batch_targets=targets, **weights)
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
