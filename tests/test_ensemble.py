"""TTAClassifier, TwoBranchFeatures / the two-branch network, and NeuralStacker."""

import pickle

import keras
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklkws.ensemble import (
    NeuralStacker,
    TTAClassifier,
    TwoBranchFeatures,
    build_stacker,
    build_two_branch,
    content_lengths,
)
from sklkws.features import GlobalStatFeatures, MelFeatures
from sklkws.models import ARCHITECTURES

# ------------------------------------------------------------------ sklearn checks

TINY_FEATURES = TwoBranchFeatures(
    MelFeatures(n_fft=8, hop_length=2, n_mels=3, sample_rate=100), GlobalStatFeatures(n_frames=2, include_length=True)
)
ESTIMATORS = [
    TTAClassifier(LogisticRegression(), n_crops=2, random_state=0),
    TTAClassifier(LogisticRegression(), n_crops=2, shifts=(0, 1), random_state=0),
    TTAClassifier(MLPClassifier((8,), max_iter=300, random_state=0), n_crops=2, crop_length=3, random_state=0),
    TINY_FEATURES,
    NeuralStacker(epochs=5, batch_size=64, learning_rate=0.05, random_state=0),
]

SHIFTED_TABULAR = (
    "the check's 2-feature blobs are not audio: shifting their columns by a sample mixes the two "
    "features, so accuracy drops below 0.83 (the unshifted instance passes)"
)
RANDOM_CROPS = (
    "fit-time crops are drawn row by row from random_state, so repeating a row changes the crops of the "
    "rows after it"
)
STACKED_LAYOUT = (
    "NeuralStacker reads X as member probabilities, n_members x n_classes columns; the check's X has a "
    "column count that is not a multiple of its number of classes, which is rejected with a ValueError"
)
CONVEX_MEMBERS = (
    "per-class member weights are convex (non-negative, summing to one) as in the seed, so on raw "
    "features (the check's standardised blobs) the separating direction may be out of reach"
)
MINIBATCH_WEIGHTS = (
    "trained by shuffled minibatch gradient descent with Keras' mean-over-batch loss: doubling a "
    "sample's weight is not the same as repeating the sample"
)


def expected_failed_checks(estimator):
    if isinstance(estimator, TTAClassifier) and estimator.shifts is not None:
        return {"check_classifiers_train": SHIFTED_TABULAR}
    if isinstance(estimator, TTAClassifier) and estimator.crop_length is not None:
        return {"check_sample_weight_equivalence_on_dense_data": RANDOM_CROPS}
    if isinstance(estimator, NeuralStacker):
        layout = [
            "check_estimators_overwrite_params", "check_estimators_fit_returns_self", "check_readonly_memmap_input",
            "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit", "check_dtype_object",
            "check_classifiers_classes", "check_classifiers_multilabel_representation_invariance",
            "check_classifiers_multilabel_output_format_predict",
            "check_classifiers_multilabel_output_format_predict_proba",
            "check_classifiers_multilabel_output_format_decision_function",
        ]
        return {
            **dict.fromkeys(layout, STACKED_LAYOUT),
            "check_classifiers_train": CONVEX_MEMBERS,
            "check_sample_weight_equivalence_on_dense_data": MINIBATCH_WEIGHTS,
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -------------------------------------------------------------------- TTA crops


class ViewRecorder(ClassifierMixin, BaseEstimator):
    """Records what it is fitted on; its 'probability' of class 1 is the view's first sample."""

    def fit(self, X, y):
        self.X_ = np.array(X)
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        first = np.clip(np.asarray(X)[:, 0], 0, 1)
        return np.column_stack([1 - first, first])


def ramp_clips(lengths, width):
    """Clip i holds 1, 2, ..., lengths[i] then zero padding: every sample names its position."""
    X = np.zeros((len(lengths), width))
    for i, n in enumerate(lengths):
        X[i, :n] = np.arange(1, n + 1)
    return X


def test_content_lengths_ignore_padding_only():
    X = np.array([[0.0, 1.0, 0.0, 2.0, 0.0], [0.0] * 5, [3.0] * 5])
    assert content_lengths(X).tolist() == [4, 0, 5]


def test_fit_crops_are_random_windows_of_the_content():
    X = ramp_clips([100, 40, 100, 40], 120)
    tta = TTAClassifier(ViewRecorder(), crop_length=60, n_train_crops=5, random_state=0).fit(X, [0, 1, 0, 1])
    crops = tta.estimator_.X_.reshape(5, 4, 60)
    # Long clips: a contiguous window of the content, never of the padding.
    long_crops = crops[:, [0, 2]].reshape(-1, 60)
    assert np.all(np.diff(long_crops, axis=1) == 1) and long_crops.min() >= 1 and long_crops.max() <= 100
    starts = long_crops[:, 0]
    assert len(set(starts.tolist())) > 3  # random positions, not one fixed crop
    # Short clips: the whole content at a random position, zeros around it (random padding).
    for crop in crops[:, [1, 3]].reshape(-1, 60):
        inside = np.flatnonzero(crop)
        assert np.array_equal(crop[inside], np.arange(1, 41)) and inside.size == 40
    pads = [np.flatnonzero(c)[0] for c in crops[:, [1, 3]].reshape(-1, 60)]
    assert len(set(pads)) > 3
    again = TTAClassifier(ViewRecorder(), crop_length=60, n_train_crops=5, random_state=0).fit(X, [0, 1, 0, 1])
    assert np.array_equal(again.estimator_.X_, tta.estimator_.X_)


def test_fit_params_follow_the_crops():
    X = ramp_clips([50] * 6, 50)
    y = np.array([0, 1] * 3)
    w = np.arange(1.0, 7.0)

    class WeightRecorder(ViewRecorder):
        def fit(self, X, y, sample_weight=None):
            self.sample_weight_ = sample_weight
            return super().fit(X, y)

    tta = TTAClassifier(WeightRecorder(), crop_length=20, n_train_crops=3).fit(X, y, sample_weight=w)
    assert np.array_equal(tta.estimator_.sample_weight_, np.tile(w, 3))


def test_groups_are_routed_as_metadata_and_follow_the_crops():
    import sklearn
    from sklearn.exceptions import UnsetMetadataPassedError

    X = ramp_clips([50] * 6, 50)
    y = np.array([0, 1] * 3)
    groups = np.array([0, 0, 1, 1, 2, 2])

    class GroupsRecorder(ViewRecorder):
        def fit(self, X, y, groups=None):
            self.groups_ = groups
            return super().fit(X, y)

    # Without routing every fit parameter is passed on; per-clip arrays follow the crops.
    tta = TTAClassifier(GroupsRecorder(), crop_length=20, n_train_crops=3).fit(X, y, groups=groups)
    assert np.array_equal(tta.estimator_.groups_, np.tile(groups, 3))
    with sklearn.config_context(enable_metadata_routing=True):
        inner = GroupsRecorder().set_fit_request(groups=True)
        tta = TTAClassifier(inner, crop_length=20, n_train_crops=3).fit(X, y, groups=groups)
        assert np.array_equal(tta.estimator_.groups_, np.tile(groups, 3))
        with pytest.raises(UnsetMetadataPassedError, match="groups"):  # not requested: refused, not guessed
            TTAClassifier(GroupsRecorder(), crop_length=20).fit(X, y, groups=groups)


def test_predict_views_are_even_crops_and_shifts():
    X = ramp_clips([100, 30], 100) / 1000.0
    tta = TTAClassifier(ViewRecorder(), n_crops=3, crop_length=50).fit(X, [0, 1])
    views = tta._views(X).reshape(3, 2, 50)
    # Long clip: crops start at the beginning, the middle and the end of its content.
    assert np.allclose(views[:, 0, 0] * 1000, [1, 26, 51])
    # Short clip: content right-aligned, centred, left-aligned (deterministic paddings).
    assert [np.flatnonzero(v)[0] for v in views[:, 1]] == [20, 10, 0]
    proba = tta.predict_proba(X)
    assert np.allclose(proba[:, 1], views[..., 0].mean(axis=0))  # average over the views
    shifted = TTAClassifier(ViewRecorder(), n_crops=1, crop_length=50, shifts=(0, 5, -5)).fit(X, [0, 1])
    views = shifted._views(X[:1]).reshape(3, 50) * 1000
    assert np.allclose(views[0, :3], [26, 27, 28])
    assert np.allclose(views[1, :7], [21, 22, 23, 24, 25, 26, 27])  # delayed by 5: earlier content
    assert np.allclose(views[2, :3], [31, 32, 33])


def spike_problem(n, rng, length=300):
    """Class 1 clips hold one loud spike somewhere; class 0 clips do not."""
    X = rng.normal(0, 0.1, size=(n, length))
    y = np.arange(n) % 2
    X[y == 1, rng.integers(0, length, size=(y == 1).sum())] = 5.0
    return X, y


def test_tta_crops_find_events_a_single_crop_misses(rng):
    X, y = spike_problem(300, rng)
    peak = FunctionTransformer(lambda Z: np.abs(Z).max(axis=1, keepdims=True))
    model = make_pipeline(peak, LogisticRegression())
    Xte, yte = spike_problem(300, rng)
    one = TTAClassifier(model, n_crops=1, crop_length=100, random_state=0).fit(X, y).score(Xte, yte)
    three = TTAClassifier(model, n_crops=3, crop_length=100, random_state=0).fit(X, y).score(Xte, yte)
    # A centre crop sees a third of the clip; three crops cover all of it.
    assert one < 0.8 and three > one + 0.15


def test_tta_bad_shifts_name_the_problem():
    with pytest.raises(ValueError, match="shifts"):
        TTAClassifier(LogisticRegression(), shifts=[0.5]).fit(np.ones((4, 10)), [0, 1, 0, 1])


# ------------------------------------------------------------------ two branch


def test_two_branch_features_pack_mel_then_stats(rng):
    X = rng.normal(size=(3, 4000)).astype(np.float32)
    mel, stats = MelFeatures(n_mels=16), GlobalStatFeatures(n_frames=16, include_length=True)
    feats = TwoBranchFeatures(mel, stats).fit(X)
    packed = feats.transform(X)
    expected = np.hstack([mel.fit_transform(X).reshape(3, -1), stats.fit_transform(X)])
    assert packed.dtype == np.float32 and np.array_equal(packed, expected)
    assert feats.arch_params_ == {"n_mels": 16, "n_stats": 16 * 12 + 1}
    names = feats.get_feature_names_out()
    assert len(names) == packed.shape[1] and names[-1] == "stats__clip_length"
    with pytest.raises(ValueError, match="flatten=False"):
        TwoBranchFeatures(MelFeatures(flatten=True), stats).fit(X)


def test_two_branch_network_splits_the_packed_row(rng):
    assert "two_branch" in ARCHITECTURES
    X = rng.normal(size=(2, 4000)).astype(np.float32)
    feats = TwoBranchFeatures(MelFeatures(n_mels=16), GlobalStatFeatures(n_frames=16, include_length=True)).fit(X)
    packed = feats.transform(X)
    model = build_two_branch(packed.shape[1:], 3, output_activation="sigmoid", mel_params={"filters": (4,)},
                             **feats.arch_params_)
    parts = keras.Model(model.inputs, [model.get_layer(n).output for n in ("mel_part", "stats_part", "clip_length")])
    mel, stats, length = (keras.ops.convert_to_numpy(p) for p in parts([packed]))
    assert np.allclose(mel, feats.mel_.transform(X))
    assert np.allclose(stats, feats.stats_.transform(X)[:, :-1].reshape(2, 16, 12))
    assert np.allclose(length[:, 0], feats.stats_.transform(X)[:, -1])
    assert model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="does not split"):
        build_two_branch(packed.shape[1:], 3, n_mels=17, n_stats=feats.n_stats_)


# --------------------------------------------------------------- neural stacker


def squash(x, shift=1.6):
    return (np.tanh(x - shift) + 1) / 2


def noisy_members(Y, rng, noise):
    """One member per noise level: labels plus Gaussian noise, clipped to [0, 1]; noise per label."""
    return np.stack([np.clip(Y + rng.normal(0, 1, Y.shape) * s, 0, 1) for s in noise], axis=-1)


def test_stacker_starts_on_the_last_member_with_identity_mixing(rng):
    P = rng.random((5, 4, 3)).astype(np.float32)
    model = build_stacker(4, 3)
    assert np.allclose(keras.ops.convert_to_numpy(model(P)), squash(P[..., -1]), atol=1e-6)
    normalized = keras.ops.convert_to_numpy(build_stacker(4, 3, normalize=True)(P))
    assert np.allclose(normalized, squash(P[..., -1]) / squash(P[..., -1]).sum(axis=1, keepdims=True), atol=1e-6)


def test_stacker_learns_which_member_to_trust_per_label(rng):
    Y = (rng.random((600, 4)) < 0.4).astype(int)
    # Member 0 is sharp on labels 0-1 and blurred on 2-3; member 1 the opposite.
    good, bad = 0.15, 0.8
    noise = np.array([[good, good, bad, bad], [bad, bad, good, good]])
    P = np.stack([np.clip(Y + rng.normal(size=Y.shape) * noise[m], 0, 1) for m in range(2)], axis=-1)
    stacker = NeuralStacker(epochs=30, random_state=0).fit(P, Y)
    W = stacker.member_weights_
    assert np.allclose(W.sum(axis=1), 1, atol=1e-5) and (W >= 0).all()
    assert (W[:2, 0] > 0.6).all() and (W[2:, 1] > 0.6).all()
    assert stacker.history_["loss"][-1] < stacker.history_["loss"][0]


@pytest.mark.parametrize("multiclass", [False, True])
def test_stacker_predict_proba_is_its_network_in_float64(rng, multiclass):
    # predict_proba runs the layers' maths in float64 (sample-order invariance): it must stay the network.
    Y = (rng.random((120, 3)) < 0.4).astype(int)
    y = Y.argmax(axis=1) if multiclass else Y
    P = noisy_members(np.eye(3)[y] if multiclass else Y, rng, (0.5, 0.3))
    stacker = NeuralStacker(epochs=5, learning_rate=0.02, random_state=0).fit(P, y)
    network = keras.ops.convert_to_numpy(stacker.model_(P.astype(np.float32)))
    proba = stacker.predict_proba(P)
    assert proba.dtype == np.float64
    assert np.allclose(proba, network, atol=1e-6) and not np.allclose(proba, squash(P[..., -1]), atol=1e-3)


def test_mixing_l2_keeps_label_mixing_near_identity(rng):
    Y = (rng.random((200, 4)) < 0.4).astype(int)
    P = noisy_members(Y, rng, (0.6, 0.4))
    drift = {}
    for l2 in (0.0, 1.0):
        stacker = NeuralStacker(mixing_l2=l2, epochs=10, learning_rate=0.02, random_state=0).fit(P, Y)
        mixing = keras.ops.convert_to_numpy(stacker.model_.get_layer("label_mixing").kernel)
        drift[l2] = np.abs(mixing - np.eye(4)).max()
    assert drift[1.0] < drift[0.0] / 5


def test_stacker_2d_and_3d_inputs_agree(rng):
    Y = (rng.random((80, 3)) < 0.4).astype(int)
    P = noisy_members(Y, rng, (0.5, 0.3))  # (n, labels, members)
    flat = P.transpose(0, 2, 1).reshape(80, -1)  # member by member, as StackingClassifier stacks
    a = NeuralStacker(epochs=3, random_state=0).fit(P, Y)
    b = NeuralStacker(epochs=3, random_state=0).fit(flat, Y)
    assert np.allclose(a.predict_proba(P), b.predict_proba(flat), atol=1e-6)
    with pytest.raises(ValueError, match="columns"):
        NeuralStacker(epochs=1).fit(flat[:, :5], Y)
    with pytest.raises(ValueError, match="members"):
        a.predict_proba(np.concatenate([P, P], axis=-1))


def test_stacker_as_final_estimator_of_stacking_classifier(rng):
    n = 360
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, 6)) + np.eye(3)[y] @ rng.normal(size=(3, 6)) * 1.5
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    stack = StackingClassifier(
        [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
        final_estimator=NeuralStacker(epochs=20, random_state=0), cv=3,
    ).fit(Xtr, ytr)
    proba = stack.predict_proba(Xte)
    assert proba.shape == (len(Xte), 3) and np.allclose(proba.sum(axis=1), 1)
    assert stack.final_estimator_.n_members_ == 2
    assert stack.score(Xte, yte) > 0.7


def test_stacker_binary_layouts(rng):
    y = rng.integers(0, 2, size=200)
    p1 = np.clip(y[:, None] + rng.normal(0, 0.4, size=(200, 2)), 0, 1)  # P(class 1) of two members
    one_column = NeuralStacker(epochs=20, learning_rate=0.05, random_state=0).fit(p1, y)
    both = np.column_stack([1 - p1[:, 0], p1[:, 0], 1 - p1[:, 1], p1[:, 1]])
    two_columns = NeuralStacker(n_members=2, epochs=20, learning_rate=0.05, random_state=0).fit(both, y)
    assert one_column.n_members_ == two_columns.n_members_ == 2
    assert np.allclose(one_column.predict_proba(p1), two_columns.predict_proba(both), atol=1e-6)
    assert one_column.score(p1, y) > 0.8


def test_stacker_pickles_to_the_same_predictions(rng):
    Y = (rng.random((50, 3)) < 0.4).astype(int)
    P = noisy_members(Y, rng, (0.5, 0.3))
    stacker = NeuralStacker(epochs=2, random_state=0).fit(P, Y)
    clone = pickle.loads(pickle.dumps(stacker))
    assert hasattr(stacker, "model_")  # pickling must not strip the live estimator
    assert np.allclose(clone.predict_proba(P), stacker.predict_proba(P))
    assert np.array_equal(clone.predict(P), stacker.predict(P))


def test_stacker_pickles_its_network_as_keras_bytes_like_the_classifiers(rng):
    # One pickling strategy for every Keras estimator: the whole .keras model, not weights to rebuild.
    Y = (rng.random((30, 3)) < 0.4).astype(int)
    stacker = NeuralStacker(epochs=1, random_state=0).fit(noisy_members(Y, rng, (0.5, 0.3)), Y)
    state = stacker.__getstate__()
    assert "model_" not in state and "_model_weights" not in state
    assert state["_model_keras"][:2] == b"PK"  # a .keras file is a zip archive


def test_two_branch_feature_rows_are_not_checked_as_audio(rng):
    import warnings

    from sklkws.device._audio import AudioRangeWarning
    from sklkws.ensemble import KerasTwoBranchClassifier
    from sklkws.models import KerasResNetClassifier

    X = rng.normal(0, 0.1, size=(12, 4000)).astype(np.float32)
    X[:, 2000:] = 0  # silence: log-mels of -89 dB
    y = np.repeat(["a", "b"], 6)
    feats = TwoBranchFeatures(MelFeatures(n_mels=16), GlobalStatFeatures(n_frames=16, include_length=True))
    rows = feats.fit_transform(X)
    assert np.abs(rows).max() > 64  # features far outside audio's [-1, 1]: the audio check would warn
    tiny = dict(epochs=1, run_eagerly=True, random_state=0)
    clf = KerasTwoBranchClassifier(arch_params={**feats.arch_params_, "mel_params": {"filters": (4,)}}, **tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioRangeWarning)
        clf.fit(rows, y)
        assert clf.predict_proba(rows).shape == (12, 2)
    # Raw audio is still checked as audio: a peak far above [-1, 1] warns.
    loud = X * 1000
    with pytest.warns(AudioRangeWarning):
        KerasResNetClassifier(arch_params={"n_blocks": 1, "filters": 4}, **tiny).fit(loud, y)
    with pytest.warns(AudioRangeWarning):  # its own front end: X is audio
        KerasTwoBranchClassifier(arch_params=clf.arch_params, frontend=feats, **tiny).fit(loud, y)
