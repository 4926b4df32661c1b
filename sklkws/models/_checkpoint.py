"""Per-epoch checkpoints that let a killed training run resume where it stopped.

After every epoch the model (weights, optimizer state and step counter) goes to a new
``epoch-NNNN.keras`` file, then ``state.json`` (last finished epoch, history, seed, a
fingerprint of data and parameters) is replaced atomically to point at it. A crash
at any moment leaves ``state.json`` naming a complete model file: the last finished
epoch is never lost and never half-written.

A checkpoint that cannot be used (unreadable or incomplete ``state.json``, a missing
or truncated model file: a disk filled up, a copy cut short, a hand edit) is set
aside in a ``corrupt-*`` subfolder with a warning, and training starts afresh.

:class:`PicklesKerasModel` is the one way a fitted sklkws estimator's Keras network
is pickled: as the bytes of a native ``.keras`` file, the format of the checkpoints.
"""

import hashlib
import json
import os
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import joblib
import keras
import numpy as np
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from ._architectures import _dtype_policy

STATE_FILE = "state.json"

#: What ``state.json`` must hold, and of which type, to be resumed from.
_STATE_KEYS = {"epoch": int, "complete": bool, "model_file": str, "seed": int, "fingerprint": str,
               "history": dict}


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


def _param_token(value):
    """A hashable stand-in for a parameter value: estimators by their class and parameters.

    An estimator given as a parameter (a front end, an augmenter) is described by what
    ``get_params`` says, not by its pickle, so that its fitted attributes and caches
    do not make the same parameters look different.
    """
    if hasattr(value, "get_params") and not isinstance(value, type):
        cls = type(value)
        params = value.get_params(deep=False)
        return ("estimator", f"{cls.__module__}.{cls.__qualname__}", {k: _param_token(v) for k, v in params.items()})
    if isinstance(value, dict):
        return {k: _param_token(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_param_token(v) for v in value]
    return value


def _update_with_array(h, array):
    """Feed ``array`` (dtype, shape and every byte) to hash ``h`` without copying it."""
    if array is None:
        h.update(b"None;")
        return
    array = np.asarray(array)
    if array.dtype.hasobject:  # string labels: no raw buffer to read
        h.update(f"object{array.shape};{joblib.hash(array)};".encode())
        return
    h.update(f"{array.dtype.str}{array.shape};".encode())
    h.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def fingerprint(data, params):
    """A hash of all the training data and all the parameters that shape the model and its training.

    Every byte counts: the few evenly spaced clips hashed before this let a change to
    any other clip resume a stale model, and ``repr`` elides long arrays such as
    background recordings. Arrays are read in place by SHA-256 (faster than
    ``joblib.hash``, which pickles them first); parameters go through ``joblib.hash``.

    Parameters
    ----------
    data : tuple of array-like or None
        Everything fitted on: X, the targets, sample weights, groups.
    params : dict
        Parameter name to value (estimators among them are described by their class
        and parameters); values that cannot be pickled fall back to their ``repr``.

    Returns
    -------
    digest : str
    """
    h = hashlib.sha256()
    for array in data:
        _update_with_array(h, array)
    for name, value in sorted(params.items()):
        try:
            token = joblib.hash(_param_token(value))
        except Exception:  # unpicklable (a lambda, a live model): the best stand-in left
            token = repr(value)
        h.update(f"{name}={token};".encode())
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


def set_aside(directory, reason):
    """Move an unusable checkpoint into a ``corrupt-*`` subfolder, warn, and return that folder."""
    directory = Path(directory)
    # A fresh folder each time: an earlier set-aside checkpoint is never overwritten.
    target = Path(tempfile.mkdtemp(prefix=f"corrupt-{time.strftime('%Y%m%dT%H%M%S')}-", dir=directory))
    for path in [directory / STATE_FILE, *directory.glob("epoch-*.keras")]:
        if path.exists():
            os.replace(path, target / path.name)
    warnings.warn(
        f"Checkpoint in {directory} is unusable ({reason}); moved it to {target} and "
        "training from scratch.",
        UserWarning,
        stacklevel=3,
    )
    return target


def _state_problem(directory, state):
    """What makes a parsed state unusable, or None."""
    if not isinstance(state, dict):
        return f"{STATE_FILE} holds {type(state).__name__}, not an object"
    for key, kind in _STATE_KEYS.items():
        if key not in state:
            return f"{STATE_FILE} has no {key!r}"
        value = state[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{STATE_FILE} has {key}={value!r}, not a {kind.__name__}"
    model_file = Path(directory) / state["model_file"]
    if Path(state["model_file"]).name != state["model_file"]:
        return f"{STATE_FILE} names model file {state['model_file']!r} outside the folder"
    if not model_file.is_file():
        return f"its model file {model_file.name} is missing"
    # A .keras file is a zip archive: a truncated one fails here, before training.
    try:
        with zipfile.ZipFile(model_file) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        return f"its model file {model_file.name} is not a complete .keras archive ({exc})"
    if bad is not None:
        return f"its model file {model_file.name} is damaged ({bad} fails its CRC)"
    return None


def load_state(directory):
    """Return the saved state dict, or None when the folder holds no usable checkpoint.

    An unusable checkpoint is set aside (see :func:`set_aside`) and None returned.
    """
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        set_aside(directory, f"{STATE_FILE} cannot be read: {exc}")
        return None
    problem = _state_problem(directory, state)
    if problem is not None:
        set_aside(directory, problem)
        return None
    return state


def load_checkpoint_model(directory, state):
    """Load the compiled model (with its optimizer state) that ``state`` points at.

    Returns None, after setting the checkpoint aside, when Keras cannot load it.
    """
    try:
        return load_keras(Path(directory) / state["model_file"])
    except Exception as exc:  # Keras raises many kinds for a damaged file
        set_aside(directory, f"Keras cannot load {state['model_file']}: {type(exc).__name__}: {exc}")
        return None


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


def model_to_bytes(model):
    """A Keras model as the bytes of its native ``.keras`` file (architecture, weights, optimizer)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def model_from_bytes(data):
    """The compiled Keras model of :func:`model_to_bytes`'s bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        return load_keras(path)


def _mixed_policy(config):
    """The first mixed dtype policy named in a saved model's config, or None."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            name = str(config.get("config", {}).get("name"))
            return name if name.startswith("mixed") else None
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        return None
    return next((p for p in map(_mixed_policy, values) if p is not None), None)


def load_keras(path):
    """The compiled model of a ``.keras`` file, under the mixed policy its layers were built with.

    A functional model's own policy is not saved, and ``compile`` wraps the
    optimizer in loss scaling only for a ``"mixed_float16"`` model: loaded under the
    float32 default, a mixed network would resume without loss scaling and lose its
    optimizer state (Keras skips the variables that do not match).
    """
    with zipfile.ZipFile(path) as archive:
        policy = _mixed_policy(json.loads(archive.read("config.json")))
    if policy is None:
        return keras.saving.load_model(path, compile=True)
    with _dtype_policy(policy):
        return keras.saving.load_model(path, compile=True)


class PicklesKerasModel:
    """Pickle ``model_`` as native ``.keras`` bytes: no live TensorFlow objects in the pickle.

    The whole model is saved (architecture, weights, optimizer state), so unpickling
    needs no rebuilding from the estimator's parameters, and custom layers load
    through Keras' serialisation registry. Unpickling under another scikit-learn
    version warns (``InconsistentVersionWarning``), as scikit-learn's own estimators do.
    """

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the instance keeps its model
        # scikit-learn records its version only for its own modules' estimators; record
        # it here too so a pickle from another version warns on load, fitted or not.
        state.setdefault("_sklearn_version", sklearn.__version__)
        model = state.pop("model_", None)
        if model is not None:
            state["_model_keras"] = model_to_bytes(model)
        return state

    def __setstate__(self, state):
        data = state.pop("_model_keras", None)
        pickled_version = state.pop("_sklearn_version", "pre-0.18")
        if pickled_version != sklearn.__version__:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_sklearn_version=sklearn.__version__,
                    original_sklearn_version=pickled_version,
                )
            )
        super().__setstate__(state)
        if data is not None:
            self.model_ = model_from_bytes(data)
