"""Several OptunaSearch worker processes on one study, and ``sklkws tune``'s bad-input errors."""

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import optuna
import pytest
import soundfile as sf
from optuna.trial import TrialState

from sklkws.cli import main
from sklkws.tuning._worker import check_memory_budget, open_study_storage

ROOT = Path(__file__).resolve().parents[1]

SEARCH = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {root!r})
    import numpy as np, optuna
    from optuna.distributions import IntDistribution
    from sklearn.tree import DecisionTreeClassifier
    from sklkws.tuning import OptunaSearch

    storage, name = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(120, 3))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    if storage == "memory":  # the serial reference: the same queue of configurations in one process
        storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
        for depth in range(1, 9):
            study.enqueue_trial({{"max_depth": depth}})
    search = OptunaSearch(
        DecisionTreeClassifier(random_state=0), {{"max_depth": IntDistribution(1, 8)}}, cv=3, n_trials=8,
        storage=storage, study_name=name, random_state=0, pruner=optuna.pruners.NopPruner(), heartbeat_interval=5, refit=False,
    ).fit(X, y, groups=np.arange(120) % 6)
    print(json.dumps({{str(p["max_depth"]): s for p, s in zip(search.cv_results_["params"],
                                                             search.cv_results_["mean_test_score"])}}))
    """
)


def run_search(script, storage, name="grid"):
    return subprocess.Popen([sys.executable, str(script), storage, name], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def result(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_worker_processes_sharing_a_study_equal_the_serial_search(tmp_path):
    # On PostgreSQL, as the documented multi-machine setup: Optuna's SQLite storage has no row
    # locks, so two processes can pop the same enqueued trial ("Cannot tell a COMPLETE trial",
    # optuna/optuna#4621), which made this test fail now and then.
    from test_tuning_storage import postgres_url

    storage = postgres_url()
    name = f"grid-{uuid.uuid4().hex[:8]}"  # the server outlives the test: a study of its own
    script = tmp_path / "search.py"
    script.write_text(SEARCH.format(root=str(ROOT)))
    serial = result(run_search(script, "memory", name))
    # Enqueued trials are handed out by the storage, each to exactly one worker.
    queue = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    for depth in range(1, 9):
        queue.enqueue_trial({"max_depth": depth})
    procs = [run_search(script, storage, name) for _ in range(3)]
    parallel = [result(p) for p in procs]

    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.trials
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.FAIL, TrialState.WAITING)]
    # No queued configuration lost, none run twice, trial numbers unique and dense.
    queued = [t for t in trials if t.number < 8]
    assert sorted(t.params["max_depth"] for t in queued) == list(range(1, 9))
    assert all(t.state == TrialState.COMPLETE for t in queued)
    assert [t.number for t in trials] == list(range(len(trials)))
    # Workers stop together; each other worker may finish the one trial it had in flight.
    assert len(trials) <= 8 + len(procs) - 1
    # Same scores as the serial search, configuration by configuration.
    assert {str(t.params["max_depth"]): t.value for t in queued} == pytest.approx(serial)
    assert len(set(serial.values())) > 1  # the scores differ between depths: equality is informative
    # Each worker's cv_results_ holds the shared study's trials complete when it stopped: every
    # score it reports is the serial one, and the workers together report every configuration.
    # (A worker that stops first cannot see a trial another worker is still running: on a
    # loaded machine "8" was missing from one worker's results.)
    for seen in parallel:
        assert set(seen) <= set(serial)
        assert seen == pytest.approx({k: serial[k] for k in seen})
    assert set().union(*parallel) >= set(serial)


def test_unreachable_study_url_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="Cannot reach the study storage"):
        open_study_storage(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'study.db'}")
    with pytest.raises(ValueError, match="postgresql://user:password@host"):
        open_study_storage("postgresql://nobody@127.0.0.1:1/none")


def small_folder(root, n=3):
    for i in range(n):
        (root / "yes").mkdir(parents=True, exist_ok=True)
        sf.write(root / "yes" / f"0000000{i}_nohash_0.wav", np.zeros(16000), 16000)
    return root


def test_memory_budget_is_checked_before_loading(tmp_path):
    data = small_folder(tmp_path / "sc")
    assert check_memory_budget(data, memory_budget=10**9) == 3
    with pytest.raises(ValueError, match="holds 3 clips.*memory budget"):
        check_memory_budget(data, memory_budget=1000)
    with pytest.raises(ValueError, match="No wav or flac"):
        check_memory_budget(tmp_path, memory_budget=10**9)


def test_tune_command_reports_bad_input_in_one_line(tmp_path, capsys):
    data = small_folder(tmp_path / "sc")
    study = f"sqlite:///{tmp_path / 'study.db'}"
    assert main(["tune", "--study", study, "--data", str(data), "--n-trials", "2", "--memory-budget", "1e-6"]) == 2
    assert "memory budget" in capsys.readouterr().err
    bad = f"sqlite:///{tmp_path / 'no' / 'such' / 'study.db'}"
    assert main(["tune", "--study", bad, "--data", str(data), "--n-trials", "2"]) == 2
    assert "Cannot reach the study storage" in capsys.readouterr().err
    assert main(["tune", "--study", study, "--data", str(data), "--n-trials", "0"]) == 2
    assert "--n-trials must be a positive integer" in capsys.readouterr().err
