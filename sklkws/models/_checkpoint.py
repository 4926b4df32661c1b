"""Per-epoch checkpoints that let a killed training run resume where it stopped.

After every epoch the model (weights, optimizer state and step counter) goes to a new
``epoch-NNNN.keras`` file, then ``state.json`` (last finished epoch, history, seed, a
fingerprint of data and parameters) is replaced atomically to point at it. A crash
at any moment leaves ``state.json`` naming a complete model file: the last finished
epoch is never lost and never half-written.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

STATE_FILE = "state.json"


def _atomic_write(path, write):
    """Write through ``write(tmp_path)`` to a temporary file, then rename onto ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fingerprint(X, y, params):
    """A hash of the training data and the parameters that shape the model and its training.

    ``X`` is sampled (64 evenly spaced clips plus its shape) so that hashing a
    105k-clip set costs milliseconds; ``y`` is hashed whole.
    """
    h = hashlib.sha256()
    h.update(repr(X.shape).encode())
    h.update(np.ascontiguousarray(X[:: max(1, len(X) // 64)]).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(repr(sorted(params.items())).encode())
    return h.hexdigest()


def weights_digest(estimator):
    """A hash of a fitted Keras classifier's network weights (None when it has none)."""
    model = getattr(estimator, "model_", None)
    if model is None:
        return None
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def load_state(directory):
    """Return the saved state dict, or None when the folder holds no checkpoint."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    with open(path) as f:
        return json.load(f)


def load_checkpoint_model(directory, state):
    """Load the compiled model (with its optimizer state) that ``state`` points at."""
    return keras.saving.load_model(Path(directory) / state["model_file"], compile=True)


class EpochCheckpoint(keras.callbacks.Callback):
    """Save model, optimizer and state after every epoch, and once more at the end.

    Parameters
    ----------
    directory : path-like
    fingerprint : str
        Identifies the training run (data + parameters).
    seed : int
        The run's root seed, reused on resume so the data pipeline continues.
    history : dict
        History of the epochs before this ``fit`` call (resumed runs); extended here.
    """

    def __init__(self, directory, fingerprint, seed, history):
        super().__init__()
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.seed = seed
        self.history = {k: list(v) for k, v in history.items()}
        self.last_epoch = None

    def _save(self, epoch, complete):
        name = f"epoch-{epoch:04d}.keras"
        if not (self.directory / name).exists() or complete:
            _atomic_write(self.directory / name, self.model.save)
        state = {
            "epoch": epoch, "complete": complete, "model_file": name, "seed": self.seed,
            "fingerprint": self.fingerprint, "history": self.history,
        }

        def write(tmp):
            with open(tmp, "w") as f:
                json.dump(state, f)

        _atomic_write(self.directory / STATE_FILE, write)
        for old in self.directory.glob("epoch-*.keras"):  # only after state.json moved on
            if old.name != name:
                old.unlink(missing_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.last_epoch = epoch
        self._save(epoch, complete=False)

    def on_train_end(self, logs=None):
        # After EarlyStopping restored the best weights (this callback runs last).
        if self.last_epoch is not None:
            self._save(self.last_epoch, complete=True)
