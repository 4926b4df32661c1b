"""The device side on its own: what a Raspberry Pi with numpy, joblib and LiteRT (only) can do.

A tiny CNN on tone "keywords" is exported once; every test checks the device side
against it: the device environment (a subprocess where the training stack cannot be
imported), the joblib paths, load-time validation of the file and its description,
the interpreters, honest parity, the budgets and the command line's errors.
"""

import json
import os
import subprocess
import sys
import textwrap
import wave

import joblib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklkws.augment import AddNoise, AugmentChain
from sklkws.cli import main
from sklkws.device import BUDGETS, CompactClassifier, compact_report, load_model
from sklkws.device._report import accuracy_drop_bound
from sklkws.export import drop_training_state, export_compact, saved_size, to_compact, to_tflite
from sklkws.export._convert import build_inference_model
from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier
from sklkws.preprocessing import Normalizer

from _tones import SR
import _tones

TONES = {"high": 3000.0, "low": 400.0}
BLOCKED = ("tensorflow", "keras", "sklearn", "librosa", "soundfile")


def make_tones(n, rng):
    return _tones.make_tones(n, rng, TONES, amplitude=0.5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return make_tones(120, rng), make_tones(60, rng)


@pytest.fixture(scope="module")
def pipe(data):
    (X, y), _ = data
    noise = AugmentChain([(AddNoise({"hum": 0.01 * np.ones(4 * SR, dtype=np.float32)}), 0.5)], random_state=0)
    # The front end inside the classifier: the noise is added to raw audio, every batch.
    network = KerasCNNClassifier("cnn9", {"filters": (4, 8)}, frontend=MelFeatures(n_mels=20, hop_length=320),
                                 learning_rate=1e-2, batch_size=8, epochs=4, augment=noise, random_state=0)
    return make_pipeline(Normalizer(), network).fit(X, y)


@pytest.fixture(scope="module")
def files(pipe, data, tmp_path_factory):
    """The tflite (float32), the compact joblib, the full pipeline's joblib, clips and a WAV."""
    (X, _), (Xv, yv) = data
    root = tmp_path_factory.mktemp("device")
    export_compact(pipe, root / "tiny.tflite", None, validation_data=(Xv, yv), n_runs=5, verbose=False)
    compact = to_compact(pipe, quantize=None)
    joblib.dump(compact, root / "compact.joblib")
    joblib.dump(pipe, root / "pipeline.joblib")
    np.save(root / "clips.npy", Xv[:10])
    stream = 0.02 * np.random.default_rng(1).standard_normal(4 * SR)
    stream[SR:2 * SR] = Xv[np.flatnonzero(yv == "high")[0]]
    with wave.open(str(root / "stream.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SR)
        f.writeframes((np.clip(stream, -1, 1) * 32767).astype("<i2").tobytes())
    return root


def run_device_python(code, tmp_path, *args, extra_blocked=(), env=None):
    """Run code in a fresh interpreter where the training stack cannot be imported (sitecustomize)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import importlib.abc, sys
        BLOCKED = {set(BLOCKED) | set(extra_blocked)!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        sys.meta_path.insert(0, Block())
    """))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), **(env or {})}
    return subprocess.run([sys.executable, *(["-c", code] if code else []), *args], capture_output=True, text=True,
                          timeout=180, env=environment)


def test_device_environment_runs_tflite_joblib_and_listen(files, pipe, data, tmp_path):
    _, (Xv, _) = data
    code = textwrap.dedent(f"""
        import sys, joblib, numpy as np
        from sklkws.device import CompactClassifier, load_model
        X = np.load({str(files / "clips.npy")!r})
        np.save({str(tmp_path / "tflite.npy")!r}, CompactClassifier({str(files / "tiny.tflite")!r},
                num_threads=2).predict_proba(X))
        np.save({str(tmp_path / "joblib.npy")!r}, joblib.load({str(files / "compact.joblib")!r}).predict_proba(X))
        try:
            load_model({str(files / "pipeline.joblib")!r})
        except ImportError as error:
            print("REFUSED:", error)
        loaded = set(m.split(".")[0] for m in sys.modules)
        assert not loaded & {set(BLOCKED)!r}, sorted(loaded)
    """)
    result = run_device_python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = pipe.predict_proba(Xv[:10])
    np.testing.assert_allclose(np.load(tmp_path / "tflite.npy"), expected, atol=1e-4)
    np.testing.assert_allclose(np.load(tmp_path / "joblib.npy"), expected, atol=1e-4)
    assert "REFUSED:" in result.stdout and "to_compact" in result.stdout and "sklkws export" in result.stdout

    for model in ("tiny.tflite", "compact.joblib"):
        listen = run_device_python(None, tmp_path, "-m", "sklkws", "listen", str(files / model),
                                   str(files / "stream.wav"), "--threshold", "0.5")
        assert listen.returncode == 0, listen.stderr[-3000:]
        assert "keyword(s) in" in listen.stdout
    version = run_device_python(None, tmp_path, "-m", "sklkws", "--version")
    assert version.returncode == 0 and version.stdout.startswith("sklkws ")


def test_to_compact_pickles_by_value_and_predicts_like_the_file(files, pipe, data, tmp_path):
    _, (Xv, _) = data
    compact = joblib.load(files / "compact.joblib")
    assert compact.model_path is None and list(compact.classes_) == list(pipe.classes_)
    np.testing.assert_array_equal(compact.predict_proba(Xv), CompactClassifier(files / "tiny.tflite").predict_proba(Xv))
    # The pickle holds the model's bytes, not a path: it survives the file's removal.
    copy = tmp_path / "copy.tflite"
    copy.write_bytes((files / "tiny.tflite").read_bytes())
    by_file = CompactClassifier(copy)
    joblib.dump(by_file, tmp_path / "by_file.joblib")
    copy.unlink()
    np.testing.assert_array_equal(joblib.load(tmp_path / "by_file.joblib").predict(Xv), by_file.predict(Xv))


def test_training_state_is_droppable_in_one_call(pipe, data):
    (X, _), (Xv, _) = data
    import copy

    model = copy.deepcopy(pipe)
    model[-1].augment.steps[0][0].augment(X[:2], 0)  # fills the sampler's validation cache (its parameters)
    before = saved_size(model)
    report = drop_training_state(model)
    assert report == {"noise_steps": 1, "recording_bytes": 4 * SR * 4, "teachers": 0}
    assert before - saved_size(model) >= report["recording_bytes"]
    np.testing.assert_array_equal(model.predict(Xv), pipe.predict(Xv))
    step = model[-1].augment.steps[0][0]
    assert step.noise == "dropped"
    assert "_params_checked" not in vars(step)  # the cache no longer holds the recordings in memory
    with pytest.raises(ValueError, match="dropped for deployment"):
        step.fit_resample(X[:4], np.zeros(4))


def test_bad_files_and_descriptions_fail_at_load_naming_the_file(files, pipe, tmp_path):
    good = (files / "tiny.tflite").read_bytes()
    metadata = json.loads((files / "tiny.tflite.json").read_text())
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all" * 10)
    junk.with_name("junk.tflite.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="junk.tflite is not a TFLite model"):
        CompactClassifier(junk).load()
    with pytest.raises(ValueError, match="junk.tflite is not a TFLite model"):
        load_model(junk)  # load_model loads at once
    with pytest.raises(ValueError, match="no such model file"):
        CompactClassifier(tmp_path / "missing.tflite").load()

    # A model without embedded description: the sidecar is used, and checked against the model.
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(to_tflite(build_inference_model(pipe, batch_size=1)))
    with pytest.raises(ValueError, match=r"bare.tflite carries no sklkws description.*sidecar="):
        CompactClassifier(bare).load()
    side = tmp_path / "described.json"
    side.write_text(json.dumps(metadata))
    assert list(CompactClassifier(bare, sidecar=side).classes_) == list(pipe.classes_)
    for change, message in [({"classes": metadata["classes"][::-1]}, "not in sorted order"),
                            ({"classes": metadata["classes"][:-1]}, "lists 2 classes but the model has 3"),
                            ({"n_samples": 8000}, "clips of 8000 samples but the model takes 16000"),
                            ({"classes": []}, "non-empty list")]:
        side.write_text(json.dumps({**metadata, **change}))
        with pytest.raises(ValueError, match=message) as error:
            CompactClassifier(bare, sidecar=side).load()
        assert "bare.tflite" in str(error.value)
    side.write_text(json.dumps({k: v for k, v in metadata.items() if k != "classes"}))
    with pytest.raises(ValueError, match="lacks 'classes'"):
        CompactClassifier(bare, sidecar=side).load()
    # An embedded description that the sidecar beside it contradicts.
    edited = tmp_path / "edited.tflite"
    edited.write_bytes(good)
    edited.with_name("edited.tflite.json").write_text(json.dumps({**metadata, "classes": ["a", "b", "c"]}))
    with pytest.raises(ValueError, match="edited.tflite: the description inside the model and .* disagree"):
        CompactClassifier(edited).load()
    with pytest.raises(ValueError, match="num_threads"):
        CompactClassifier(files / "tiny.tflite", num_threads=0).load()


def test_compact_init_only_stores_its_parameters(files, data, tmp_path):
    from sklearn.base import clone

    missing = tmp_path / "missing.tflite"
    lazy = CompactClassifier(missing, num_threads=2)  # scikit-learn's convention: no file read here
    assert lazy.get_params() == {"model_path": missing, "num_threads": 2, "batch_size": 64, "sidecar": None}
    assert "missing.tflite" in repr(lazy)
    _, (Xv, _) = data
    with pytest.raises(ValueError, match="missing.tflite: no such model file"):
        lazy.predict(Xv[:1])  # the first use loads, with the load's message
    with pytest.raises(ValueError, match="no such model file"):
        lazy.classes_  # noqa: B018
    with pytest.raises(ValueError, match="no such model file"):
        load_model(missing)
    model = CompactClassifier(files / "tiny.tflite")
    assert "_content" not in vars(model)
    copy = clone(model)  # clone builds from the parameters: cheap, and loads on use like the original
    assert copy is not model and copy.get_params() == model.get_params()
    expected = json.loads((files / "tiny.tflite.json").read_text())["classes"]
    assert list(model.classes_) == expected and "_content" in vars(model)
    np.testing.assert_array_equal(copy.predict(Xv), model.predict(Xv))
    assert model.load() is model


def test_proba_to_labels_is_the_rule_of_every_classifier(files, data):
    from sklkws.device import MULTILABEL_THRESHOLD, proba_to_labels

    proba = np.array([[0.1, 0.9], [0.5, 0.5], [0.7, 0.3]])
    assert proba_to_labels(proba, np.array(["a", "b"])).tolist() == ["b", "a", "a"]  # ties: the first column
    assert proba_to_labels(proba, np.arange(2), multilabel=True).tolist() == [[0, 1], [1, 1], [1, 0]]
    assert MULTILABEL_THRESHOLD == 0.5
    _, (Xv, _) = data
    compact = CompactClassifier(files / "tiny.tflite")
    np.testing.assert_array_equal(compact.predict(Xv), proba_to_labels(compact.predict_proba(Xv), compact.classes_))


def test_interpreter_messages_tflite_runtime_and_32_bit(files, tmp_path):
    fake = tmp_path / "fake"
    (fake / "tflite_runtime").mkdir(parents=True)
    (fake / "tflite_runtime" / "__init__.py").write_text("")
    (fake / "tflite_runtime" / "interpreter.py").write_text("raise SystemExit('must not be imported')\n")
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(fake)!r})
        from sklkws.device import CompactClassifier
        try:
            CompactClassifier({str(files / "tiny.tflite")!r}).load()
        except ImportError as error:
            print(error)
    """)
    result = run_device_python(code, tmp_path, extra_blocked=("ai_edge_litert",))
    assert result.returncode == 0, result.stderr[-2000:]
    if int(np.__version__.split(".")[0]) >= 2:
        assert "tflite-runtime was built for NumPy 1.x" in result.stdout and "numpy<2" in result.stdout
    code = textwrap.dedent(f"""
        import platform
        platform.machine = lambda: "armv7l"
        from sklkws.device import CompactClassifier
        try:
            CompactClassifier({str(files / "tiny.tflite")!r}).load()
        except ImportError as error:
            print(error)
    """)
    result = run_device_python(code, tmp_path, extra_blocked=("ai_edge_litert", "tflite_runtime"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no ai-edge-litert wheels for 32-bit ARM (armv7l)" in result.stdout and "64-bit" in result.stdout


def test_embedded_description_is_read_without_a_schema_module(files, tmp_path):
    # tflite-runtime ships no flatbuffer schema: the description is still found inside the file.
    alone = tmp_path / "alone.tflite"
    alone.write_bytes((files / "tiny.tflite").read_bytes())  # no sidecar beside it
    code = textwrap.dedent(f"""
        import sklkws.device._compact as c
        c._schema = lambda: None
        print(c.CompactClassifier({str(alone)!r}).classes_.tolist())
    """)
    result = run_device_python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(sorted([*TONES, "_silence_"]))


def test_compact_is_a_scikit_learn_classifier(files, data):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.base import is_classifier
    from sklearn.metrics import ConfusionMatrixDisplay, get_scorer

    _, (Xv, yv) = data
    compact = CompactClassifier(files / "tiny.tflite")
    assert is_classifier(compact)
    assert get_scorer("accuracy")(compact, Xv, yv) == pytest.approx(compact.score(Xv, yv))
    display = ConfusionMatrixDisplay.from_estimator(compact, Xv, yv)
    assert display.confusion_matrix.sum() == len(Xv)
    assert list(display.display_labels) == list(compact.classes_)


def test_parity_bound_is_one_sided_and_resolves_the_check_set():
    # Every discordant clip lost: the exact lower bound of q is alpha ** (1 / d).
    for lost, n in [(1, 300), (10, 300), (40, 2000)]:
        assert accuracy_drop_bound(lost, 0, n) == pytest.approx((2 * 0.05 ** (1 / lost) - 1) * lost / n, rel=1e-6)
    assert accuracy_drop_bound(1, 0, 300) < 0.005  # one clip of 300 (0.33 points) cannot fail
    assert accuracy_drop_bound(10, 0, 300) > 0.005  # 3.3 points lost on 300 clips does
    assert accuracy_drop_bound(0, 5, 300) < 0  # a more accurate export
    assert accuracy_drop_bound(3, 3, 300) < 0 < accuracy_drop_bound(30, 3, 300)


def test_parity_passes_a_better_export_and_fails_a_worse_one(files, data):
    from sklkws.device._report import _parity

    _, (Xv, _) = data
    compact = CompactClassifier(files / "tiny.tflite")
    exported = compact.predict(Xv)
    flipped = exported.copy()
    flipped[::3] = np.where(flipped[::3] == "low", "high", "low")

    class Original:
        def __init__(self, pred):
            self.pred = pred

        def predict(self, X):
            return self.pred[: len(X)]

    # Labels = the export's predictions: the export is better than an original wrong on a third.
    better = _parity(compact, Original(flipped), Xv, exported, "int8", 0.99, 0.005)
    assert better["accuracy_change_points"] > 0 and better["passed"]
    # Labels = a perfect original's: the export lost a third of the clips, far beyond what 60 clips resolve.
    worse = _parity(compact, Original(flipped), Xv, flipped, "int8", 0.99, 0.005)
    assert worse["n_lost"] == len(Xv[::3]) and worse["drop_lower_bound_points"] > 0.5 and not worse["passed"]
    # A float export is judged on agreement with the original instead.
    assert not _parity(compact, Original(flipped), Xv, exported, None, 0.99, 0.005)["passed"]
    assert _parity(compact, Original(exported), Xv, None, None, 0.99, 0.005)["agreement"] == 1.0


def test_int8_parity_calibrates_and_checks_on_separate_clips(pipe, data, tmp_path):
    (X, _), (Xv, yv) = data
    report = export_compact(pipe, tmp_path / "q.tflite", "int8", X, n_calibration=80, n_runs=3, verbose=False,
                            check=False)
    assert report["parity"]["n_clips"] == len(X) - 80  # the clips not drawn for calibration
    report = export_compact(pipe, tmp_path / "q.tflite", "int8", X, validation_data=(Xv, yv), n_runs=3,
                            verbose=False, check=False)
    assert report["parity"]["n_clips"] == len(Xv) and report["peak_memory_bytes"] > 0
    assert "McNemar" in report["parity"]["criterion"]


def test_budgets(files):
    pi = compact_report(files / "tiny.tflite", n_runs=3, memory=False)
    assert pi["passed"] and pi["budget"] == "pi" and pi["max_size_bytes"] == 5_000_000
    micro = compact_report(files / "tiny.tflite", n_runs=3, budget="micro", memory=False)
    assert micro["max_size_bytes"] == BUDGETS["micro"]["max_size_bytes"] == 250_000
    assert not micro["passed"] and "budget 'micro' is for int8 models" in micro["failures"][-1]
    tight = compact_report(files / "tiny.tflite", n_runs=3, budget="micro", max_size_bytes=1000, memory=False)
    assert "budget 'micro' needs <= 1,000" in tight["failures"][0]
    with pytest.raises(ValueError, match="budget must be one of"):
        compact_report(files / "tiny.tflite", budget="nano")


def test_npz_with_object_labels_as_the_loaders_return(pipe, data, tmp_path, capsys):
    (X, y), (Xv, yv) = data
    joblib.dump(pipe, tmp_path / "model.joblib")
    np.savez(tmp_path / "clips.npz", X=Xv, y=yv.astype(object))
    status = main(["export", str(tmp_path / "model.joblib"), "--out", str(tmp_path / "m.tflite"),
                   "--quantize", "float16", "--data", str(tmp_path / "clips.npz")])
    out = capsys.readouterr().out
    assert status == 0 and "PASSED" in out and "labels: given" in out


def test_cli_errors_are_one_line(pipe, data, tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression

    (X, y), _ = data
    logreg = make_pipeline(MelFeatures(n_mels=20, hop_length=640, flatten=True), LogisticRegression(max_iter=50))
    joblib.dump(logreg.fit(X, y), tmp_path / "logreg.joblib")
    joblib.dump(pipe, tmp_path / "cnn.joblib")
    np.savez(tmp_path / "clips.npz", X=X[:30], y=y[:30])
    cases = [
        (["export", str(tmp_path / "nothing.joblib"), "--out", "x.tflite"], "no such model file"),
        (["export", str(tmp_path / "cnn.joblib"), "--out", str(tmp_path / "x.tflite")], "needs calibration clips"),
        (["export", str(tmp_path / "logreg.joblib"), "--out", str(tmp_path / "x.tflite"), "--quantize", "none",
          "--data", str(tmp_path / "clips.npz")], "demo --model cnn --save"),
        (["listen", str(tmp_path / "cnn.joblib"), str(tmp_path / "missing.wav")], "missing.wav"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "error:" in err and message in err and "Traceback" not in err, err
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("sklkws 0.")
