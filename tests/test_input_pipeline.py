"""The training input pipeline: batches made in parallel, and Keras backends other than TensorFlow."""

import os
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sklkws.augment import Gain, SpecAugment  # noqa: E402
from sklkws.features import MelFeatures  # noqa: E402
from sklkws.models import KerasResNetClassifier  # noqa: E402
from sklkws.models._data import TrainingBatches, _BatchSequence, _EpochSetter, input_workers  # noqa: E402
from test_models_training import clips as sine_clips  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clips():
    return sine_clips(n_per_class=8, n_samples=800)


def network(**params):
    """A tiny TC-ResNet on log-mels with every per-batch step: waveform and feature augmentation, mixup."""
    defaults = dict(
        arch="tcresnet", arch_params={"width": 0.25, "stem2d": 0}, frontend=MelFeatures(n_mels=8, n_fft=128,
                                                                                        hop_length=64),
        augment=Gain(gain_db=(-6.0, 6.0)),
        feature_augment=SpecAugment(n_freq_masks=1, freq_width=2, n_time_masks=1, time_width=2),
        mixup_alpha=0.3, epochs=3, batch_size=8, learning_rate=0.01, random_state=0,
    )
    return KerasResNetClassifier(**{**defaults, **params})


def test_input_workers_follows_the_n_jobs_convention():
    from sklkws.frontend._maths import available_cores

    cores = available_cores()
    assert input_workers(None) == 1
    assert input_workers(4) == 4
    assert input_workers(-1) == cores
    assert input_workers(-cores - 5) == 1


def test_batches_made_in_parallel_train_the_same_network():
    X, y = clips()
    one = network().fit(X, y)
    several = network(n_jobs=3).fit(X, y)
    assert one.history_ == several.history_
    np.testing.assert_array_equal(one.predict_proba(X), several.predict_proba(X))


class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_n_jobs_is_not_part_of_the_checkpoint(tmp_path):
    # The batches do not depend on n_jobs, so a finished run is found again with another value.
    X, y = clips()
    first = network(checkpoint_dir=tmp_path).fit(X, y)
    count = CountBatches()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = network(checkpoint_dir=tmp_path, n_jobs=2, callbacks=[count]).fit(X, y)
    assert not [w for w in caught if "other data or parameters" in str(w.message)]
    assert count.batches == 0 and again.history_ == first.history_


def run_batches(first_epoch=0, last_epoch=3):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((21, 64)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 21)]
    return TrainingBatches(X, Y, np.ones(21, np.float32), rows=np.arange(21), batch_size=5, seed=3,
                           augment=Gain(gain_db=(-6.0, 6.0)), first_epoch=first_epoch, last_epoch=last_epoch)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("first_epoch", [0, 1])
def test_batch_sequence_serves_the_run_in_keras_epoch_order(workers, first_epoch):
    # What Keras does with a PyDataset: one item drawn to build the metrics, then per epoch
    # the callbacks' on_epoch_begin and items 0..len-1, then on_train_end.
    batches = run_batches(first_epoch)
    reference = run_batches(first_epoch)
    halve = lambda X, Y: Y * 0.5  # noqa: E731  (a batch_targets hook, on NumPy arrays here)
    sequence = _BatchSequence(batches, halve, workers)
    setter = _EpochSetter(sequence)
    assert sequence.workers == 1  # Keras's own enqueuer stays off: it served stale batches after restarts
    assert len(sequence) == batches.steps_per_epoch == 5
    sequence[0]
    for epoch in range(first_epoch, 3):
        setter.on_epoch_begin(epoch)
        for i in range(len(sequence)):
            X, Y, w = sequence[i]
            want = reference[(epoch - first_epoch) * 5 + i]
            np.testing.assert_array_equal(X, want[0])
            np.testing.assert_array_equal(Y, want[1] * 0.5)
            np.testing.assert_array_equal(w, want[2])
    before = threading.active_count()
    setter.on_train_end()
    assert sequence._pool is None and not sequence._pending
    assert threading.active_count() <= before


def test_parallel_front_end_calls_give_the_same_features():
    # Workers run the front end on one thread each (thread_limit); the features must not change.
    from sklkws.frontend._maths import thread_limit

    X = np.random.default_rng(0).standard_normal((40, 16000)).astype(np.float32)
    mel = MelFeatures(n_mels=40).fit(X[:1])
    every_core = mel.transform(X)
    with thread_limit(1):
        one_thread = mel.transform(X)
    np.testing.assert_array_equal(every_core, one_thread)


JAX_FIT = """
import sys

class NoTensorFlow:  # the lent GPU machines have JAX but no TensorFlow
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ImportError("No module named 'tensorflow' (blocked by the test)")

sys.meta_path.insert(0, NoTensorFlow())
import joblib, keras, numpy as np
assert keras.backend.backend() == "jax", keras.backend.backend()
sys.path.insert(0, {tests!r})
from test_input_pipeline import clips, network
from sklkws.ensemble import NeuralStacker
from sklkws.export import drop_training_state

X, y = clips()
one = network().fit(X, y)
several = network(n_jobs=3).fit(X, y)
assert one.history_ == several.history_, (one.history_, several.history_)
np.testing.assert_array_equal(one.predict_proba(X), several.predict_proba(X))
assert one.model_.jit_compile, "JAX steps must be compiled (eager JAX is 100x slower on a GPU)"
assert one.history_["loss"][-1] < one.history_["loss"][0]
try:
    NeuralStacker().fit(np.stack([one.predict_proba(X)] * 2, axis=-1), y)
except RuntimeError as error:
    assert "KERAS_BACKEND=tensorflow" in str(error), error
else:
    raise AssertionError("NeuralStacker trained without TensorFlow")
drop_training_state(one)
joblib.dump(one, {model!r})
np.save({proba!r}, one.predict_proba(X))
assert "tensorflow" not in sys.modules
print("ok")
"""


def test_jax_backend_trains_without_tensorflow_and_the_model_loads_under_tensorflow(tmp_path):
    pytest.importorskip("jax", reason="JAX is not installed (pip install jax): the non-TensorFlow backend path")
    import joblib

    model, proba = tmp_path / "jax_model.joblib", tmp_path / "proba.npy"
    code = JAX_FIT.format(tests=os.path.join(ROOT, "tests"), model=str(model), proba=str(proba))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=900, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
    # Keras saves the network backend-neutrally: this process (TensorFlow) predicts the same.
    X, _ = clips()
    loaded = joblib.load(model)
    np.testing.assert_allclose(loaded.predict_proba(X), np.load(proba), atol=1e-5)
