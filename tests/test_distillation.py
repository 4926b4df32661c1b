"""DistilledClassifier and the teacher-mixed targets of the Keras classifiers."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

keras = pytest.importorskip("keras")

from sklkws.distillation import DistilledClassifier, TeacherTargets  # noqa: E402
from sklkws.features import MelFeatures  # noqa: E402
from sklkws.models import KerasResNetClassifier  # noqa: E402
from sklkws.preprocessing import Normalizer  # noqa: E402

TINY = dict(epochs=1, batch_size=128, learning_rate=0.02, run_eagerly=True, random_state=0)
TINY_1D = {"n_blocks": 1, "filters": 4, "kernel_size": 3}

_NOT_SGD = (
    "mini-batch training: a sample weight of 2 is not the same as repeating the sample "
    "(the batches, the BatchNorm statistics and the number of steps per epoch change)"
)
_TINY_SCORE = (
    "teacher and student are kept to a few hundred weights and one epoch so the checks run in "
    "seconds; they do not reach the check's 0.83 blob accuracy in that budget. "
    "test_student_follows_the_teacher checks what the student learns"
)


def _tiny():
    net = KerasResNetClassifier(arch_params=TINY_1D, **TINY)
    return DistilledClassifier(VotingClassifier([("a", net), ("b", clone(net).set_params(random_state=1))],
                                                voting="soft"), net)


@parametrize_with_checks(
    [_tiny()],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": _NOT_SGD,
        "check_classifiers_train": _TINY_SCORE,
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _tones(n_per_class, seed=0, n_samples=400):
    """Noisy tones, one frequency per class."""
    rng = np.random.default_rng(seed)
    freqs = {"low": 0.02, "mid": 0.06, "high": 0.12}
    y = np.repeat(np.array(list(freqs)), n_per_class)
    t = np.arange(n_samples)
    X = np.sin(2 * np.pi * np.array([freqs[c] for c in y])[:, None] * t + rng.uniform(0, 6, (len(y), 1)))
    X += 0.3 * rng.standard_normal(X.shape)
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


def _net(**params):
    params = {"epochs": 10, "batch_size": 16, "learning_rate": 0.01, "random_state": 0, **params}
    return KerasResNetClassifier(arch_params={"n_blocks": 2, "filters": 8, "bn_momentum": 0.8}, **params)


def test_student_follows_the_teacher():
    X, y = _tones(30)
    X_test, y_test = _tones(10, seed=1)
    # A teacher that learnt "low" and "high" the wrong way round.
    swap = {"low": "high", "high": "low", "mid": "mid"}
    liar = _net().fit(X, np.array([swap[c] for c in y]))
    assert liar.score(X_test, [swap[c] for c in y_test]) >= 0.9
    # Trained on the true labels, a student with teacher_weight=1 sees only the teacher's
    # probabilities and learns its mistake; with 0 it learns the labels.
    follower = _net().fit(X, y, batch_targets=TeacherTargets([liar], teacher_weight=1.0))
    assert follower.score(X_test, [swap[c] for c in y_test]) >= 0.9
    own_mind = _net().fit(X, y, batch_targets=TeacherTargets([liar], teacher_weight=0.0))
    assert own_mind.score(X_test, y_test) >= 0.9
    # Half and half: the targets are ties between label and teacher on "low" and "high",
    # so those clips are split between the two while "mid" (both agree) stays right.
    mid = y_test == "mid"
    half = _net().fit(X, y, batch_targets=TeacherTargets([liar], teacher_weight=0.5)).predict_proba(X_test)
    np.testing.assert_allclose(half[~mid][:, [0, 1]].sum(1), 1.0, atol=0.15)  # classes_ high, low, mid
    assert (half[mid].argmax(1) == 2).mean() >= 0.9


def test_distilled_vote_in_a_pipeline_predicts_with_the_student():
    X, y = _tones(20)
    net = _net(epochs=4)
    vote = VotingClassifier([(f"m{i}", clone(net).set_params(random_state=i)) for i in range(2)], voting="soft")
    model = make_pipeline(Normalizer(), DistilledClassifier(vote, net, teacher_weight=0.3)).fit(X, y)
    distilled = model[-1]
    assert list(distilled.classes_) == ["high", "low", "mid"]
    assert len(distilled.teacher_.estimators_) == 2
    np.testing.assert_array_equal(distilled.student_.classes_, [0, 1, 2])  # trained on the codes
    Xn = model[0].transform(X)
    np.testing.assert_allclose(model.predict_proba(X), distilled.student_.predict_proba(Xn), rtol=1e-6)
    np.testing.assert_array_equal(model.predict(X), distilled.classes_[distilled.student_.predict(Xn)])
    assert model.score(X, y) > 0.8


def test_teacher_must_see_what_the_student_sees():
    X, y = _tones(4, n_samples=1600)
    mel = dict(frontend=MelFeatures(n_fft=128, hop_length=64, n_mels=8), arch="tcresnet",
               arch_params={"width": 0.25}, **TINY)
    teacher = KerasResNetClassifier(**mel).fit(X, y)
    other = dict(mel, frontend=MelFeatures(n_fft=128, hop_length=64, n_mels=8, fmin=300.0))
    with pytest.raises(ValueError, match="front end gives other features"):
        KerasResNetClassifier(**other).fit(X, y, batch_targets=TeacherTargets([teacher]))
    with pytest.raises(ValueError, match=r"predicts classes \['high', 'low', 'mid'\], not \[0, 1, 2\]"):
        KerasResNetClassifier(**mel).fit(X, np.unique(y, return_inverse=True)[1],
                                         batch_targets=TeacherTargets([teacher]))
    # teacher_weight is a parameter of DistilledClassifier, checked by its _parameter_constraints.
    with pytest.raises(ValueError, match="teacher_weight"):
        DistilledClassifier(teacher, KerasResNetClassifier(**mel), teacher_weight=2).fit(X, y)
    with pytest.raises(ValueError, match="teacher_weight"):
        TeacherTargets([teacher], teacher_weight=2)
    with pytest.raises(ValueError, match="not a fitted sklkws Keras classifier"):
        KerasResNetClassifier(**mel).fit(X, y, batch_targets=TeacherTargets([object()]))
    with pytest.raises(ValueError, match="at least one fitted classifier"):
        TeacherTargets([])
    piped = VotingClassifier([("p", make_pipeline(Normalizer(), KerasResNetClassifier(**mel)))], voting="soft")
    with pytest.raises(ValueError, match="Pipeline before the DistilledClassifier"):
        DistilledClassifier(piped, KerasResNetClassifier(**mel)).fit(X, y)
    with pytest.raises(ValueError, match="student must be an sklkws Keras classifier"):
        DistilledClassifier(teacher, LogisticRegression()).fit(X, y)


class _Trained(keras.callbacks.Callback):
    calls = 0

    def on_train_begin(self, logs=None):
        type(self).calls += 1


def test_a_teacher_that_sees_other_features_is_refused_before_anything_trains():
    # Found with the recommended vote, whose third member reads 64 log-mel bands: the
    # mismatch surfaced after the three teachers had trained (about half an hour on 2 cores).
    X, y = _tones(4, n_samples=1600)
    mel = dict(arch="tcresnet", arch_params={"width": 0.25}, callbacks=[_Trained()], **TINY)
    student = KerasResNetClassifier(frontend=MelFeatures(n_fft=128, hop_length=64, n_mels=8), **mel)
    wide = KerasResNetClassifier(frontend=MelFeatures(n_fft=128, hop_length=64, n_mels=12), **mel)
    vote = VotingClassifier([("same", clone(student)), ("wide", wide)], voting="soft")
    _Trained.calls = 0
    with pytest.raises(ValueError, match=r"teacher 1 \(KerasResNetClassifier\)'s front end gives other features"):
        DistilledClassifier(vote, student).fit(X, y)
    assert _Trained.calls == 0


def test_the_distilled_recipe_gives_every_teacher_the_students_log_mels():
    from sklkws.recipes import recommended_pipeline

    X, y = _tones(4, n_samples=16000)
    model = recommended_pipeline(distill=True, student_params={"arch_params": {"width": 0.25, "stem2d": 0}},
                                 arch_params={"width": 0.25}, epochs=1, batch_size=128, run_eagerly=True,
                                 random_state=0)[-1]
    teachers = [net for _, net in model.teacher.estimators]
    assert [net.arch_params["stem2d"] for net in teachers] == [8, 8, 0]  # the members still differ
    from sklkws.ensemble._distillation import _check_same_features

    _check_same_features(teachers, model.student, X)  # no error: the same features


def test_distillation_lives_on_the_ensemble_side():
    import sklkws.distillation
    import sklkws.ensemble

    for name in ("DistilledClassifier", "TeacherTargets"):
        assert getattr(sklkws.distillation, name) is getattr(sklkws.ensemble, name)
    assert DistilledClassifier.__module__ == "sklkws.ensemble._distillation"


def test_batch_targets_is_a_generic_hook_of_the_classifiers():
    import tensorflow as tf

    X, y = _tones(30)
    X_test, y_test = _tones(10, seed=1)
    # Every batch's targets rolled by one class (classes_ high, low, mid): the network learns
    # high -> low, low -> mid, mid -> high, whatever the labels say.
    rolled = _net().fit(X, y, batch_targets=lambda X, Y: tf.roll(Y, 1, axis=1))
    roll = {"high": "low", "low": "mid", "mid": "high"}
    assert rolled.score(X_test, [roll[c] for c in y_test]) >= 0.9
    with pytest.raises(ValueError, match="batch_targets must be a callable"):
        _net().fit(X, y, batch_targets="teacher")
