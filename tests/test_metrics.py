"""lwlrap: hand-computed cases, the definition, sklearn's LRAP identity, the scorer."""

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import label_ranking_average_precision_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.ensemble import RandomForestClassifier
from scipy.sparse import csr_matrix

from sklkws.metrics import lwlrap, lwlrap_scorer, per_class_lwlrap


def lwlrap_by_definition(y_true, y_score, sample_weight=None):
    """The Freesound 2019 definition, written out loop by loop.

    For each sample i and each true label c: precision = (# true labels of i
    scored >= score[i, c]) / (# labels of i scored >= score[i, c]). Per class:
    mean precision over its positives; overall: classes weighted by their
    share of positives (= mean over all (sample, true label) pairs).
    """
    n, k = y_true.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    hits, counts = np.zeros(k), np.zeros(k)
    for i in range(n):
        for c in range(k):
            if y_true[i, c]:
                above = y_score[i] >= y_score[i, c]
                hits[c] += w[i] * (y_true[i] & above).sum() / above.sum()
                counts[c] += w[i]
    per_class = np.divide(hits, counts, out=np.full(k, np.nan), where=counts > 0)
    weights = counts / counts.sum()
    return np.nansum(per_class * weights), per_class, weights


def random_case(rng, n=60, k=7, p=0.25, ties=False):
    y_true = rng.random((n, k)) < p
    y_true[rng.integers(0, n, 5), rng.integers(0, k, 5)] = True  # some positives always
    y_score = rng.random((n, k))
    if ties:
        y_score = np.round(y_score, 1)  # many ties within rows
    return y_true, y_score


# --- hand-computed cases ------------------------------------------------------


def test_hand_computed_example():
    # Sample 0: true {c0}, scores c1 0.9 > c2 0.5 > c0 0.2: c0 ranked 3rd,
    #   1 true label at or above it -> precision 1/3.
    # Sample 1: true {c1, c2}, scores c0 0.7 > c1 0.6 > c2 0.1:
    #   c1 ranked 2nd, 1 true at or above -> 1/2; c2 ranked 3rd, 2 true -> 2/3.
    # lwlrap = mean over the 3 pairs = (1/3 + 1/2 + 2/3) / 3 = 1/2.
    # Per class: c0 1/3, c1 1/2, c2 2/3, each holding 1 of 3 positives.
    y_true = np.array([[1, 0, 0], [0, 1, 1]])
    y_score = np.array([[0.2, 0.9, 0.5], [0.7, 0.6, 0.1]])
    assert lwlrap(y_true, y_score) == pytest.approx(0.5)
    scores, weights = per_class_lwlrap(y_true, y_score)
    np.testing.assert_allclose(scores, [1 / 3, 1 / 2, 2 / 3])
    np.testing.assert_allclose(weights, [1 / 3, 1 / 3, 1 / 3])
    # Plain (sample-averaged) LRAP differs: (1/3 + (1/2 + 2/3)/2) / 2 = 11/24.
    assert label_ranking_average_precision_score(y_true, y_score) == pytest.approx(11 / 24)


def test_hand_computed_unequal_class_weights():
    # Sample 0: true {c0, c1}, scores c0 0.9 > c1 0.8 > c2 0.1 -> 1, 1.
    # Sample 1: true {c0}, scores c2 0.6 > c0 0.5 > c1 0.4 -> c0 at rank 2: 1/2.
    # Sample 2: true {c0}, scores c0 0.3 > c1 0.2 > c2 0.1 -> 1.
    # c0: (1 + 1/2 + 1) / 3 = 5/6, weight 3/4; c1: 1, weight 1/4; c2: no positives.
    # lwlrap = 3/4 * 5/6 + 1/4 * 1 = 7/8 (= (1 + 1 + 1/2 + 1) / 4 pairs).
    y_true = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 0]], dtype=bool)
    y_score = np.array([[0.9, 0.8, 0.1], [0.5, 0.4, 0.6], [0.3, 0.2, 0.1]])
    assert lwlrap(y_true, y_score) == pytest.approx(7 / 8)
    scores, weights = per_class_lwlrap(y_true, y_score)
    np.testing.assert_allclose(scores[:2], [5 / 6, 1.0])
    assert np.isnan(scores[2])
    np.testing.assert_allclose(weights, [3 / 4, 1 / 4, 0.0])


def test_ties_count_against_the_true_label():
    # true {c0}; c0 ties with false c1 at 0.5: both occupy rank 2 -> 1/2.
    # A constant score gives 1/k for a single true label out of k.
    assert lwlrap([[1, 0, 0]], [[0.5, 0.5, 0.1]]) == pytest.approx(0.5)
    assert lwlrap([[0, 0, 1, 0]], [[0.3, 0.3, 0.3, 0.3]]) == pytest.approx(0.25)


def test_perfect_and_reversed_ranking(rng):
    y_true, _ = random_case(rng)
    perfect = y_true + 0.1 * rng.random(y_true.shape)  # true labels always above
    assert lwlrap(y_true, perfect) == 1.0
    assert lwlrap(y_true, -perfect) < 0.6
    # All labels true: every ranking is perfect.
    assert lwlrap(np.ones((3, 4)), rng.random((3, 4))) == 1.0


# --- the definition, sklearn's identity, invariances --------------------------


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_definition_and_weighted_sklearn_lrap(ties, seed):
    rng = np.random.default_rng(seed)
    y_true, y_score = random_case(rng, ties=ties)
    expected, per_class, weights = lwlrap_by_definition(y_true, y_score)
    assert lwlrap(y_true, y_score) == pytest.approx(expected, rel=1e-12)
    got_scores, got_weights = per_class_lwlrap(y_true, y_score)
    np.testing.assert_allclose(got_scores, per_class, rtol=1e-12)
    np.testing.assert_allclose(got_weights, weights, rtol=1e-12)
    assert np.nansum(got_scores * got_weights) == pytest.approx(expected, rel=1e-12)
    # The known identity: LRAP with each sample weighted by its true-label count.
    sk = label_ranking_average_precision_score(y_true, y_score, sample_weight=y_true.sum(1))
    assert lwlrap(y_true, y_score) == pytest.approx(sk, rel=1e-12)


def test_sample_weight_matches_definition_and_repetition(rng):
    y_true, y_score = random_case(rng, n=30)
    w = rng.integers(0, 4, len(y_true))
    expected, per_class, _ = lwlrap_by_definition(y_true, y_score, w)
    assert lwlrap(y_true, y_score, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    # Integer weights act like repeating rows.
    rep = np.repeat(np.arange(len(w)), w)
    assert lwlrap(y_true, y_score, sample_weight=w) == pytest.approx(lwlrap(y_true[rep], y_score[rep]))
    np.testing.assert_allclose(
        per_class_lwlrap(y_true, y_score, sample_weight=w)[0], per_class_lwlrap(y_true[rep], y_score[rep])[0]
    )
    sk = label_ranking_average_precision_score(y_true, y_score, sample_weight=w * y_true.sum(1))
    assert lwlrap(y_true, y_score, sample_weight=w) == pytest.approx(sk, rel=1e-12)


def test_invariances(rng):
    y_true, y_score = random_case(rng)
    base = lwlrap(y_true, y_score)
    # Only the order within a row matters: a monotone map changes nothing...
    assert lwlrap(y_true, 3 * np.exp(y_score) - 7) == pytest.approx(base)
    # ...nor do per-row shifts, sample order, or label order.
    assert lwlrap(y_true, y_score + rng.normal(size=(len(y_true), 1))) == pytest.approx(base)
    rows, cols = rng.permutation(len(y_true)), rng.permutation(y_true.shape[1])
    assert lwlrap(y_true[rows][:, cols], y_score[rows][:, cols]) == pytest.approx(base)
    # Sparse, int, bool and float32 inputs give the same value.
    assert lwlrap(csr_matrix(y_true.astype(int)), y_score) == pytest.approx(base)
    assert lwlrap(y_true.astype(np.float32), y_score.astype(np.float32)) == pytest.approx(base, rel=1e-6)


def test_improving_one_rank_raises_the_score():
    y_true = np.array([[0, 1, 0, 0], [1, 0, 0, 1]])
    worse = np.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.6, 0.8, 0.9]])
    better = worse.copy()
    better[0, 1] = 0.95  # sample 0's true label moves from last to first
    assert lwlrap(y_true, better) > lwlrap(y_true, worse)


# --- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "y_true, y_score, match",
    [
        ([[1, 0], [0, 1]], [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]], "different shapes"),
        ([[0, 0], [0, 0]], [[0.1, 0.2], [0.3, 0.4]], "no positive labels"),
        ([0, 1, 2], [[0.1, 0.2, 0.7]] * 3, "indicator matrix"),
        ([[0.3, 0.7], [1, 0]], [[0.1, 0.2], [0.3, 0.4]], "binary indicator"),
        ([[1, 0], [0, 1]], [[np.nan, 0.2], [0.3, 0.4]], "NaN"),
        ([[1, 0], [0, 1]], [0.2, 0.9], "1-D while y_true has 2 label columns"),
    ],
)
def test_bad_input_raises(y_true, y_score, match):
    with pytest.raises(ValueError, match=match):
        lwlrap(y_true, y_score)
    with pytest.raises(ValueError, match=match):
        per_class_lwlrap(y_true, y_score)


def test_bad_sample_weight_raises():
    y_true, y_score = [[1, 0], [0, 1]], [[0.1, 0.2], [0.3, 0.4]]
    with pytest.raises(ValueError, match="non-negative"):
        lwlrap(y_true, y_score, sample_weight=[1, -1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        lwlrap(y_true, y_score, sample_weight=[1, 1, 1])
    with pytest.raises(ValueError, match="no positive labels"):
        lwlrap(y_true, y_score, sample_weight=[0, 0])


# --- the scorer ----------------------------------------------------------------


@pytest.fixture(scope="module")
def multilabel_data():
    X, Y = make_multilabel_classification(
        n_samples=150, n_features=10, n_classes=5, n_labels=2, allow_unlabeled=False, random_state=0
    )
    return X, Y


@pytest.mark.parametrize(
    "estimator",
    [
        OneVsRestClassifier(LogisticRegression(solver="liblinear")),
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
        RandomForestClassifier(n_estimators=10, random_state=0),  # list of (n, 2) probas
    ],
    ids=["ovr-logreg", "mlp", "forest"],
)
def test_scorer_in_cross_val_score(multilabel_data, estimator):
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    X, Y = multilabel_data
    cv = KFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(estimator, X, Y, cv=cv, scoring=lwlrap_scorer)
        train, test = next(cv.split(X))
        fitted = clone(estimator).fit(X[train], Y[train])
    proba = fitted.predict_proba(X[test])
    if isinstance(proba, list):
        proba = np.column_stack([p[:, 1] for p in proba])
    assert scores[0] == pytest.approx(lwlrap(Y[test], proba))
    assert lwlrap_scorer(fitted, X[test], Y[test]) == pytest.approx(scores[0])
    # Informative models beat a constant-score baseline, whose ties score low.
    dummy = cross_val_score(DummyClassifier(strategy="prior"), X, Y, cv=cv, scoring=lwlrap_scorer)
    assert scores.mean() > dummy.mean() + 0.1


def test_scorer_in_grid_search(multilabel_data):
    X, Y = multilabel_data
    search = GridSearchCV(
        OneVsRestClassifier(LogisticRegression(solver="liblinear")),
        {"estimator__C": [1e-4, 1.0]},
        scoring=lwlrap_scorer,
        cv=3,
    ).fit(X, Y)
    # Heavy regularisation squashes scores toward the class priors: worse ranking.
    assert search.best_params_ == {"estimator__C": 1.0}
    assert 0 < search.cv_results_["mean_test_score"][0] < search.best_score_ <= 1


def test_scorer_passes_sample_weight(multilabel_data):
    X, Y = multilabel_data
    est = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(X, Y)
    w = np.random.default_rng(0).integers(0, 3, len(Y))
    assert lwlrap_scorer(est, X, Y, sample_weight=w) == pytest.approx(
        lwlrap(Y, est.predict_proba(X), sample_weight=w)
    )


def test_scorer_two_label_limit_names_the_workaround():
    # With two labels an estimator's classes_ ([0, 1]) look binary, so sklearn's
    # scorer keeps one column; lwlrap says so instead of a bare shape error.
    X, Y = make_multilabel_classification(n_samples=60, n_features=5, n_classes=2, random_state=0)
    est = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(X, Y)
    with pytest.raises(ValueError, match=r"call lwlrap\(y, est.predict_proba\(X\)\) directly"):
        lwlrap_scorer(est, X, Y)
    assert 0 < lwlrap(Y, est.predict_proba(X)) <= 1
