"""Cross-validation and a vote's members fitted on a Dask cluster through joblib.

The test starts its own ``dask.distributed.LocalCluster`` (two worker processes)
and checks that ``joblib.parallel_backend("dask")`` gives exactly the serial
results with the same seeds: nothing in sklkws may depend on which process fits.
Keras fits in fresh worker processes are slow to start, so there are two tiny ones.
"""

import numpy as np
import pytest
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sklkws.features import MelFeatures  # noqa: E402


def clips(n=48, seed=0):
    """Two classes of 0.25 s clips: low or high tone plus noise, eight speakers."""
    rng = np.random.default_rng(seed)
    t = np.arange(4000) / 16000
    y = np.arange(n) % 2
    freq = np.where(y == 0, 300.0, 2000.0)[:, None] * rng.uniform(0.9, 1.1, size=(n, 1))
    X = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.normal(size=(n, t.size))
    return X.astype(np.float32), np.array(["low", "high"])[y], np.arange(n) % 8


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with cluster, distributed.Client(cluster) as c:
        yield c


def mfcc_logreg():
    return make_pipeline(MelFeatures(kind="mfcc", n_mfcc=8, n_fft=256, hop_length=256, flatten=True),
                         StandardScaler(), LogisticRegression(max_iter=200))


def test_cross_validate_on_dask_equals_serial(client):
    X, y, groups = clips()
    cv = GroupKFold(n_splits=4)
    serial = cross_validate(mfcc_logreg(), X, y, groups=groups, cv=cv, return_estimator=True)
    with joblib.parallel_backend("dask"):
        on_dask = cross_validate(mfcc_logreg(), X, y, groups=groups, cv=cv, n_jobs=-1, return_estimator=True)
        scores = cross_val_score(mfcc_logreg(), X, y, groups=groups, cv=cv, n_jobs=-1)
    assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(on_dask["test_score"], serial["test_score"])
    np.testing.assert_array_equal(scores, serial["test_score"])
    for a, b in zip(on_dask["estimator"], serial["estimator"]):
        np.testing.assert_array_equal(a[-1].coef_, b[-1].coef_)
    assert serial["test_score"].mean() > 0.8  # the task is learnable: equal scores are not equal failures


def test_voting_members_fitted_on_dask_equal_serial(client):
    from sklearn.linear_model import SGDClassifier

    X, y, _ = clips()

    def vote():
        return VotingClassifier([
            (f"sgd{seed}", make_pipeline(MelFeatures(kind="mfcc", n_mfcc=8, n_fft=256, hop_length=256, flatten=True),
                                         StandardScaler(), SGDClassifier(loss="log_loss", random_state=seed)))
            for seed in (0, 1, 2)
        ], voting="soft")

    serial = vote().fit(X, y)
    with joblib.parallel_backend("dask"):
        parallel = vote().set_params(n_jobs=3).fit(X, y)
    np.testing.assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))
    for a, b in zip(parallel.estimators_, serial.estimators_):
        np.testing.assert_array_equal(a[-1].coef_, b[-1].coef_)
    # The members differ (their seeds), so equality is member by member, not trivial.
    assert not np.array_equal(serial.estimators_[0][-1].coef_, serial.estimators_[1][-1].coef_)


@pytest.mark.slow
def test_keras_voting_members_fitted_on_dask_equal_serial(client):
    from sklkws.models import KerasCNNClassifier

    X, y, _ = clips(n=32)

    def vote():
        members = [
            (f"cnn{seed}", make_pipeline(
                MelFeatures(kind="logmel", n_mels=16, n_fft=256, hop_length=256),
                KerasCNNClassifier("cnn6", {"filters": (4, 4, 4, 4, 4, 4), "dense_units": ()}, epochs=2,
                                   batch_size=16, random_state=seed)))
            for seed in (0, 1)
        ]
        return VotingClassifier(members, voting="soft")

    serial = vote().fit(X, y)
    with joblib.parallel_backend("dask"):
        parallel = vote().set_params(n_jobs=2).fit(X, y)
    np.testing.assert_allclose(parallel.predict_proba(X), serial.predict_proba(X), rtol=1e-5, atol=1e-6)
    # The two members differ (their seeds), so the comparison is member by member, not trivially.
    p0, p1 = (m.predict_proba(X) for m in serial.estimators_)
    assert not np.allclose(p0, p1)
