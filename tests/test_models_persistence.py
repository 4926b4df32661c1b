"""Pickling in a fresh process, and checkpoints that survive a killed training run."""

import json
import os
import pickle
import pickletools
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sklkws.models import KerasResNetClassifier  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(arch_params={"n_blocks": 1, "filters": 4, "kernel_size": 3}, epochs=4, batch_size=16,
              learning_rate=0.02, run_eagerly=True, random_state=0)


def clips(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["high", "low", "mid"]), 12)
    freq = np.select([y == "low", y == "mid"], [0.02, 0.06], 0.12)[:, None]
    X = np.sin(2 * np.pi * freq * np.arange(400) + rng.uniform(0, 6, (len(y), 1)))
    return (X + 0.3 * rng.standard_normal(X.shape)).astype(np.float32), y


def run_python(code, tmp_path):
    """Run code in a fresh interpreter from the repository root; return the completed process."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)})


def pickled_modules(data):
    """Modules of every class or function the pickle stream refers to."""
    modules, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            modules.add(strings[-2])
        elif op.name == "GLOBAL":
            modules.add(arg.split(" ")[0])
    return modules


def test_joblib_round_trip_in_a_fresh_process(tmp_path):
    X, y = clips()
    clf = KerasResNetClassifier(**{**PARAMS, "run_eagerly": False}).fit(X, y)
    expected = clf.predict_proba(X)
    modules = pickled_modules(pickle.dumps(clf))
    assert not {m for m in modules if m.split(".")[0] in ("keras", "tensorflow")}, modules
    assert hasattr(clf, "model_")  # pickling does not strip the live estimator

    joblib.dump(clf, tmp_path / "clf.joblib")
    np.save(tmp_path / "X.npy", X)
    done = run_python(f"""
        import joblib, numpy as np, sys
        clf = joblib.load({str(tmp_path / "clf.joblib")!r})
        np.save({str(tmp_path / "proba.npy")!r}, clf.predict_proba(np.load({str(tmp_path / "X.npy")!r})))
        print(type(clf.model_).__module__, clf.classes_.tolist())
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "['high', 'low', 'mid']" in done.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), expected)


class EpochLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_killed_training_resumes_from_its_last_finished_epoch(tmp_path):
    X, y = clips()
    np.savez(tmp_path / "data.npz", X=X, y=y)
    ckpt = tmp_path / "ckpt"
    done = run_python(f"""
        import os, signal, numpy as np, keras
        from sklkws.models import KerasResNetClassifier

        class KillInEpoch3(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch
            def on_train_batch_end(self, batch, logs=None):
                if self.epoch == 2 and batch == 1:  # mid-epoch, after two finished epochs
                    os.kill(os.getpid(), signal.SIGKILL)

        data = np.load({str(tmp_path / "data.npz")!r})
        KerasResNetClassifier(**{PARAMS!r}, checkpoint_dir={str(ckpt)!r},
                              callbacks=[KillInEpoch3()]).fit(data["X"], data["y"])
    """, tmp_path)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    state = json.loads((ckpt / "state.json").read_text())
    assert state["epoch"] == 1 and not state["complete"]
    assert [p.name for p in ckpt.iterdir() if p.suffix == ".keras"] == [state["model_file"]]
    killed_history = state["history"]
    assert len(killed_history["loss"]) == 2

    log = EpochLog()
    resumed = KerasResNetClassifier(**PARAMS, checkpoint_dir=ckpt, callbacks=[log]).fit(X, y)
    assert log.epochs == [2, 3]  # only what was lost is trained again
    assert len(resumed.history_["loss"]) == resumed.n_epochs_ == 4
    assert resumed.history_["loss"][:2] == killed_history["loss"]

    # Nothing lost: the same model as a run that was never interrupted.
    uninterrupted = KerasResNetClassifier(**PARAMS).fit(X, y)
    np.testing.assert_allclose(resumed.predict_proba(X), uninterrupted.predict_proba(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resumed.history_["loss"], uninterrupted.history_["loss"], rtol=1e-5)

    # A finished checkpoint is returned as it is; other data starts afresh, with a warning.
    again = EpochLog()
    finished = KerasResNetClassifier(**PARAMS, checkpoint_dir=ckpt, callbacks=[again]).fit(X, y)
    assert again.epochs == []
    np.testing.assert_array_equal(finished.predict_proba(X), resumed.predict_proba(X))
    with pytest.warns(UserWarning, match="from other data or parameters"):
        KerasResNetClassifier(**{**PARAMS, "epochs": 1}, checkpoint_dir=ckpt).fit(X[::-1], y[::-1])
    assert json.loads((ckpt / "state.json").read_text())["epoch"] == 0
