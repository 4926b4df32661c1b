"""Persistent OptunaSearch studies: killed and resumed, and shared by worker processes.

Workers are subprocesses running a small sklearn search whose fits sleep a little,
so that trials overlap and a kill lands mid-trial. The PostgreSQL variant needs a
server URL in SKLKWS_TEST_POSTGRES_URL (CI's .ci/run starts one) and the psycopg driver.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
optuna.logging.set_verbosity(optuna.logging.WARNING)

WORKER = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    from optuna.distributions import IntDistribution
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier
    from sklkws.tuning import OptunaSearch

    def slow(X):
        time.sleep({sleep})  # stands for real training time
        return X

    storage, study_name, n_trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    heartbeat = int(sys.argv[5])
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(80, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    pipe = Pipeline([("slow", FunctionTransformer(slow)), ("tree", DecisionTreeClassifier(random_state=0))])
    search = OptunaSearch(
        pipe, {{"tree__max_depth": IntDistribution(1, 30)}}, cv=2, n_trials=n_trials, storage=storage,
        study_name=study_name, heartbeat_interval=heartbeat, random_state=seed, refit=False,
    ).fit(X, y, groups=np.arange(80) % 8)
    print(json.dumps({{"rows": len(search.cv_results_["params"]), "states": list(search.cv_results_["state"])}}))
    """
)


@pytest.fixture
def worker_script(tmp_path):
    def make(sleep=0.05):
        path = tmp_path / f"worker_{sleep}.py"
        path.write_text(WORKER.format(root=str(ROOT), sleep=sleep))
        return path

    return make


def start_worker(script, storage, study_name, n_trials, seed, heartbeat=1):
    args = [sys.executable, str(script), storage, study_name, str(n_trials), str(seed), str(heartbeat)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def postgres_url():
    url = os.environ.get("SKLKWS_TEST_POSTGRES_URL")
    if not url and os.environ.get("CI") == "true":
        pytest.fail("CI must run this test on a real PostgreSQL server: .ci/run's setup_postgres failed")
    if not url:
        pytest.skip("no PostgreSQL server: set SKLKWS_TEST_POSTGRES_URL (CI's .ci/run starts one)")
    try:
        import psycopg  # noqa: F401  (SQLAlchemy's driver for postgresql:// URLs)
    except ImportError:
        pytest.skip("PostgreSQL driver missing: pip install 'psycopg[binary]'")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return postgres_url()


@pytest.mark.slow
def test_killed_study_resumes_without_losing_finished_trials(worker_script, tmp_path):
    storage = f"sqlite:///{tmp_path / 'resume.db'}"
    name = "resume"
    proc = start_worker(worker_script(sleep=0.15), storage, name, 40, 0)
    complete, fresh = [], []
    deadline = time.monotonic() + 90
    try:
        # Kill once 3 trials are done and the next one has just started (no fold recorded
        # yet), so that the kill lands mid-trial.
        while len(complete) < 3 or not fresh:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.2)
            try:
                study = optuna.load_study(study_name=name, storage=storage)
            except KeyError:  # study not created yet
                continue
            complete = study.get_trials(states=(TrialState.COMPLETE,))
            fresh = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if not t.user_attrs.get("split0")]
        before = {t.number: (t.params, t.value, dict(t.user_attrs)) for t in study.get_trials()
                  if t.state == TrialState.COMPLETE}
    finally:
        proc.send_signal(signal.SIGKILL)  # no cleanup: as if the machine died
        proc.communicate()
    interrupted = [t.number for t in optuna.load_study(study_name=name, storage=storage).trials
                   if t.state == TrialState.RUNNING]
    assert interrupted, "the kill should land mid-trial"
    time.sleep(2.5)  # > the grace period (2 heartbeats of 1 s): the interrupted trial is now stale

    n_total = len(before) + 4
    result = finish(start_worker(worker_script(sleep=0.0), storage, name, n_total, 1))
    study = optuna.load_study(study_name=name, storage=storage)
    after = {t.number: t for t in study.trials}
    for number, (params, value, attrs) in before.items():
        assert after[number].state == TrialState.COMPLETE
        assert (after[number].params, after[number].value, after[number].user_attrs) == (params, value, attrs)
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == n_total
    assert not study.get_trials(states=(TrialState.RUNNING,))
    for number in interrupted:  # failed by its stopped heartbeat, then retried with its parameters
        assert after[number].state == TrialState.FAIL
        retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == number]
        assert len(retries) == 1 and retries[0].params == after[number].params
    assert result["rows"] == len(finished) + len(interrupted)  # cv_results_ covers both processes


@pytest.mark.slow
def test_two_workers_share_one_study(worker_script, storage_url):
    name = f"shared-{uuid.uuid4().hex[:8]}"
    n_trials = 10
    try:
        # A generous heartbeat: under load a live worker's beat can lag a few seconds, and
        # the other worker would then fail its running trial as stale.
        procs = [start_worker(worker_script(sleep=0.1), storage_url, name, n_trials, seed, heartbeat=5)
                 for seed in (1, 2)]
        results = [finish(p) for p in procs]
        study = optuna.load_study(study_name=name, storage=storage_url)
        trials = study.trials
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        # Together they stop at n_trials; each may finish the one trial it had in flight.
        assert n_trials <= len(finished) <= n_trials + 1
        assert [t.number for t in trials] == list(range(len(trials)))
        assert not [t for t in trials if t.state == TrialState.FAIL]
        workers = {t.user_attrs["worker"] for t in finished}
        assert len(workers) == 2, "both processes should have run trials"
        # Each worker's cv_results_ reads the whole shared study, not only its own trials.
        assert max(r["rows"] for r in results) == len(finished)
    finally:
        try:
            optuna.delete_study(study_name=name, storage=storage_url)
        except KeyError:
            pass
