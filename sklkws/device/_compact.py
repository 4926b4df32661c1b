"""The on-device side: run an exported artifact with numpy and the LiteRT interpreter only.

Nothing here imports TensorFlow, Keras, librosa or scikit-learn, so this module is
all a Raspberry Pi needs (``pip install ai-edge-litert numpy``, or ``tflite-runtime``).
"""

import json
import platform
import sys
import statistics
import time
from pathlib import Path

import numpy as np

from ._audio import to_float_audio
from ._labels import proba_to_labels
from ._macs import tflite_macs  # the TFLite graph's MAC counter (re-exported here)

__all__ = ["CompactClassifier", "load_model", "measure_latency", "read_metadata", "tflite_macs"]

#: Name of the metadata entry holding the JSON description inside the .tflite file.
METADATA_NAME = "sklkws_metadata"
#: Format tag of that JSON; bumped when its keys change incompatibly.
FORMAT = "sklkws-compact/1"


def _interpreter_class():
    # With TensorFlow already in the process, use its bundled interpreter: loading
    # ai-edge-litert's native library beside TensorFlow makes later TensorFlow training
    # crash (SIGSEGV in conv2d_backprop_filter, seen with TF 2.21 + ai-edge-litert 2.3).
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        return tf.lite.Interpreter
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        pass
    else:
        return Interpreter
    from importlib.util import find_spec

    try:
        tflite_runtime = find_spec("tflite_runtime")
    except (ImportError, ValueError):
        tflite_runtime = None
    if tflite_runtime is not None:
        # Every tflite-runtime wheel on PyPI (the last is 2.14) was compiled against NumPy 1.x:
        # under NumPy 2 its first invoke crashes, so refuse it here with the fix.
        if int(np.__version__.split(".")[0]) >= 2:
            raise ImportError(
                f"tflite-runtime was built for NumPy 1.x and this environment has NumPy {np.__version__}: "
                "pip install 'numpy<2' (or pip install \"sklkws[device-tflite]\"), or use ai-edge-litert "
                "instead (pip install ai-edge-litert)."
            )
        from tflite_runtime.interpreter import Interpreter

        return Interpreter
    machine = platform.machine().lower()
    if machine.startswith(("armv6", "armv7", "arm")) and machine not in ("arm64",):
        raise ImportError(
            f"No LiteRT interpreter is installed, and PyPI has no ai-edge-litert wheels for 32-bit ARM "
            f"({platform.machine()}): install 64-bit Raspberry Pi OS (aarch64) and pip install \"sklkws[device]\", "
            "or build the TFLite runtime for armv7 from source."
        )
    raise ImportError(
        "Running a compact model needs the LiteRT interpreter: pip install \"sklkws[device]\" "
        "(or pip install ai-edge-litert; tflite-runtime works with numpy<2)."
    )


def _schema():
    """The TFLite flatbuffer schema (TensorFlow's when loaded, else ai-edge-litert's), or None."""
    # Importing ai_edge_litert at all loads its native library: keep it out of TensorFlow processes.
    if "tensorflow" in sys.modules:
        from tensorflow.lite.python import schema_py_generated

        return schema_py_generated
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        return None
    return schema_py_generated


def sidecar_path(path):
    """The JSON file written beside ``path``: ``model.tflite`` -> ``model.tflite.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _scan_metadata(content):
    """The embedded JSON found by its opening bytes, for interpreters shipping no flatbuffer schema."""
    # The exporter writes json.dumps(metadata) with "format" first, as one raw flatbuffer buffer.
    start = content.find(b'{"format": "' + FORMAT.encode())
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(content[start:].decode("utf-8", errors="replace"))[0]
    except ValueError:
        return None


def metadata_entry(content, name):
    """The bytes stored under ``name`` among a .tflite flatbuffer's metadata entries, or None.

    None too when the flatbuffer schema module is missing (it ships with ai-edge-litert
    and TensorFlow) or the content is not a flatbuffer.
    """
    schema = _schema()
    if schema is None:
        return None
    try:
        root = schema.Model.GetRootAs(content, 0)
        for i in range(root.MetadataLength()):
            entry = root.Metadata(i)
            if entry.Name() == name.encode():
                buffer = root.Buffers(entry.Buffer())
                if buffer.Offset():
                    return bytes(content[buffer.Offset(): buffer.Offset() + buffer.Size()])
                return buffer.DataAsNumpy().tobytes()
    except Exception:  # not a flatbuffer (struct.error, IndexError, ...): the interpreter will say so
        return None
    return None


def _embedded_metadata(content):
    if _schema() is None:
        return _scan_metadata(content)
    data = metadata_entry(content, METADATA_NAME)
    try:
        return None if data is None else json.loads(data.decode("utf-8"))
    except ValueError:
        return None


def read_metadata(model, *, sidecar=None):
    """The sklkws description of an exported model: labels, input, front end.

    Reads the ``sklkws_metadata`` entry inside the .tflite flatbuffer (plain JSON,
    no code), or the JSON file beside it when the schema module is not installed
    or the entry is missing.

    Parameters
    ----------
    model : str, path-like or bytes
        The .tflite file or its content.
    sidecar : str or path-like, default=None
        JSON file to use when the model carries no metadata; by default
        ``<model>.json`` beside a model given as a path.

    Returns
    -------
    metadata : dict

    Raises
    ------
    ValueError
        If neither the model nor a JSON file beside it describes the model.
    """
    is_bytes = isinstance(model, (bytes, bytearray))
    name = "The model bytes" if is_bytes else str(model)
    content = bytes(model) if is_bytes else Path(model).read_bytes()
    metadata = _embedded_metadata(content)
    if metadata is not None:
        return metadata
    if sidecar is None and not is_bytes:
        sidecar = sidecar_path(model)
    if sidecar is not None and Path(sidecar).is_file():
        try:
            return json.loads(Path(sidecar).read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{sidecar} (the description of {name}) is not valid JSON: {error}.") from None
    raise ValueError(
        f"{name} carries no sklkws description (metadata) and "
        + (f"there is no {sidecar} beside it" if sidecar is not None else "no JSON description was given")
        + ": export the model with `sklkws export` (or sklkws.export.export_compact), or pass the JSON file "
        "written beside it: CompactClassifier(path, sidecar='model.tflite.json')."
    )


def _validate(metadata, source):
    """The description checked for the keys and types prediction needs; ValueError naming ``source``."""
    if not isinstance(metadata, dict):
        raise ValueError(f"{source}: the model description is a {type(metadata).__name__}, not a JSON object.")
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{source}: unknown model description format {metadata.get('format')!r}; expected "
                         f"{FORMAT!r} (re-export the model with this version of sklkws).")
    missing = [key for key in ("classes", "n_samples", "sample_rate") if key not in metadata]
    if missing:
        raise ValueError(f"{source}: the model description lacks {', '.join(map(repr, missing))}; re-export it.")
    classes = metadata["classes"]
    if not isinstance(classes, list) or not classes:
        raise ValueError(f"{source}: 'classes' must be a non-empty list of labels, got {classes!r}.")
    if len(set(map(repr, classes))) != len(classes):
        raise ValueError(f"{source}: 'classes' lists a label twice: {classes!r}.")
    if not metadata.get("multilabel", False):
        try:
            in_order = list(np.unique(np.asarray(classes))) == list(np.asarray(classes))
        except TypeError:
            in_order = False
        if not in_order:
            # scikit-learn's classes_ are sorted (np.unique) and are the output columns' order:
            # a list out of order (e.g. reversed) would give wrong labels silently.
            raise ValueError(f"{source}: 'classes' is not in sorted order ({classes!r}) as a fitted "
                             "classifier's classes_ are; the description was edited or belongs to another "
                             "model: re-export it.")
    for key in ("n_samples", "sample_rate"):
        value = metadata[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{source}: {key!r} must be a positive integer, got {value!r}.")
    return metadata


def check_clips(X, n_samples, sample_rate=16000):
    """A batch of mono clips of ``n_samples`` samples as finite float32 (integer PCM scaled).

    Raises
    ------
    ValueError
        Naming the problem: stereo, not 2-D, empty, wrong length, not numeric, NaN.
    """
    X = np.asarray(X)
    if X.ndim == 3:
        raise ValueError(f"Expected mono audio of shape (n_clips, n_samples), got shape {X.shape}: "
                         "this looks like multi-channel (stereo) audio; mix it down first.")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D batch of clips (n_clips, n_samples), got shape {X.shape}; "
                         "use X[None, :] for one clip.")
    if X.shape[0] == 0:
        raise ValueError("Empty batch: 0 clips.")
    if X.shape[1] != n_samples:
        raise ValueError(f"Clips have {X.shape[1]} samples; this model takes {n_samples} "
                         f"({n_samples / sample_rate:g} s at {sample_rate} Hz).")
    # Integer PCM of any width scaled by its full range; NaN/inf and float audio far
    # outside [-1, 1] refused: the same sample conventions as the training side.
    return to_float_audio(X).astype(np.float32, copy=False)


def _input_batch(detail):
    """The graph's fixed batch size, or None when the batch dimension is resizable."""
    signature = detail.get("shape_signature")
    batch = int(signature[0]) if signature is not None and len(signature) else int(detail["shape"][0])
    return batch if batch > 0 else None


def _one_clip(interpreter):
    """Size the input for one clip (a graph with a fixed batch keeps it) and return (index, batch, n_samples)."""
    detail = interpreter.get_input_details()[0]
    batch, n_samples = _input_batch(detail), int(detail["shape"][-1])
    if batch is None:
        interpreter.resize_tensor_input(detail["index"], [1, n_samples])
        batch = 1
    interpreter.allocate_tensors()
    return detail["index"], batch, n_samples


def _make_interpreter(content, num_threads):
    return _interpreter_class()(model_content=content, num_threads=num_threads)


def measure_latency(model, clip=None, *, n_runs=100, n_warmup=10, num_threads=1):
    """Median wall time of one single-clip inference, in milliseconds.

    Parameters
    ----------
    model : str, path-like or bytes
        A .tflite file or its content.
    clip : ndarray of shape (n_samples,), default=None
        The input; quiet noise of the model's input length when None.
    n_runs : int, default=100
        Timed runs (set input, invoke, read output); the median is returned.
    n_warmup : int, default=10
    num_threads : int, default=1

    Returns
    -------
    latency_ms : float
    """
    if n_runs < 1:
        raise ValueError(f"n_runs must be at least 1, got {n_runs}.")
    content = Path(model).read_bytes() if not isinstance(model, (bytes, bytearray)) else bytes(model)
    interpreter = _make_interpreter(content, num_threads)
    index, batch, n_samples = _one_clip(interpreter)
    if clip is None:
        clip = 0.1 * np.random.default_rng(0).standard_normal(n_samples)
    x = np.zeros((batch, n_samples), dtype=np.float32)  # a fixed batch above one: the time of a whole batch
    x[0] = np.asarray(clip, dtype=np.float32).reshape(n_samples)
    output = interpreter.get_output_details()[0]["index"]
    times = []
    for run in range(n_warmup + n_runs):
        start = time.perf_counter()
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        interpreter.get_tensor(output)
        if run >= n_warmup:
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


#: Attributes of a CompactClassifier that come from its file: reading one loads it.
_LOADED_ATTRIBUTES = frozenset({"classes_", "metadata_", "n_samples_", "n_features_in_", "sample_rate_",
                                "multilabel_", "_interpreter", "_content"})


class CompactClassifier:
    """Predict from an exported .tflite model with numpy and the LiteRT interpreter only.

    The model file holds the whole inference path (front end, network, vote) and
    describes itself (labels, clip length, sample rate, front-end parameters) in
    its metadata or the JSON file beside it, so loading it runs no pickled code:
    this is the safe way to load a model received from elsewhere. A
    ``CompactClassifier`` can also be saved with joblib (see
    :func:`sklkws.export.to_compact`); it then carries the model bytes and the
    metadata, and loads where only numpy, joblib and LiteRT are installed (loading a
    joblib file runs pickled code: only load files you trust).

    Creating the object only stores its parameters (scikit-learn's convention);
    the file is read and checked by :meth:`load`, which :func:`load_model` calls,
    or else on first use (``predict``, ``classes_``, ...), and on unpickling: a
    file that is no TFLite model, a description that does not match the model's
    input length or number of outputs, or a class list out of the sorted order of
    ``classes_`` raise a ``ValueError`` naming the file.

    This is a runtime object, not an estimator to fit. Where scikit-learn is
    installed it is a classifier to scikit-learn (``is_classifier``, scorers,
    ``ConfusionMatrixDisplay.from_estimator``) without this module importing
    scikit-learn.

    Parameters
    ----------
    model_path : str or path-like
        The .tflite file written by :func:`sklkws.export.export_compact`.
    num_threads : int, default=1
        Interpreter threads (4 uses all cores of a Raspberry Pi).
    batch_size : int, default=64
        Clips per interpreter call in :meth:`predict_proba` when the model's batch is
        resizable (``export_compact(batch_size=None)``); a model with a fixed batch
        (1 by default) is fed that many clips per call.
    sidecar : str or path-like, default=None
        The JSON description to use when the file carries none; by default
        ``<model_path>.json`` beside it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels, in the column order of :meth:`predict_proba`.
    metadata_ : dict
        The model's description (``"classes"``, ``"n_samples"``, ``"sample_rate"``,
        ``"frontend"``, ``"quantize"``, ``"voting"``, ...).
    n_samples_ : int
        Samples per input clip.
    n_features_in_ : int
        The same, under scikit-learn's name.
    sample_rate_ : int
    multilabel_ : bool
        True when the outputs are independent label probabilities (sigmoid).

    Examples
    --------
    >>> clf = CompactClassifier("kws.tflite", num_threads=4).load()  # doctest: +SKIP
    >>> clf.predict(clips)  # doctest: +SKIP
    array(['yes', '_silence_'], dtype='<U9')
    """

    _estimator_type = "classifier"  # what scikit-learn < 1.6 reads

    def __init__(self, model_path, *, num_threads=1, batch_size=64, sidecar=None):
        # Parameters only, as scikit-learn's convention wants (clone and get_params build
        # copies this way); the file is read by load(), on first use at the latest.
        self.model_path = model_path
        self.num_threads = num_threads
        self.batch_size = batch_size
        self.sidecar = sidecar

    def load(self):
        """Read and check the model file and its description now (done once, on first use otherwise).

        :func:`load_model` calls this, so a bad file fails where it is loaded.

        Returns
        -------
        self : CompactClassifier

        Raises
        ------
        ValueError
            Naming the file: missing, not a TFLite model, no description, or a
            description that does not match the model.
        """
        if "_content" in self.__dict__:
            return self
        model_path, sidecar = self.model_path, self.sidecar
        path = Path(model_path)
        if not path.is_file():
            raise ValueError(f"{model_path}: no such model file; give the .tflite file written by `sklkws export`.")
        content = path.read_bytes()
        side = Path(sidecar) if sidecar is not None else sidecar_path(model_path)
        if sidecar is not None and not side.is_file():
            raise ValueError(f"sidecar={str(sidecar)!r}: no such file; give the JSON written beside the model.")
        embedded = _embedded_metadata(content)
        if embedded is None:
            metadata = read_metadata(model_path, sidecar=side)  # the sidecar, or the error naming both files
        else:
            metadata = embedded
            if side.is_file():
                described = read_metadata(b"", sidecar=side)
                differ = [key for key in ("classes", "n_samples", "sample_rate", "multilabel")
                          if isinstance(described, dict) and described.get(key) != embedded.get(key)]
                if differ or not isinstance(described, dict):
                    raise ValueError(f"{model_path}: the description inside the model and {side} disagree "
                                     f"on {', '.join(map(repr, differ)) or 'everything'}; delete or re-write "
                                     f"{side} (the model's own description is used when it is absent).")
        self._setup(content, metadata, str(model_path))
        return self

    def __getattr__(self, name):
        # Called only for attributes not set yet: the loaded ones are read from the file on
        # first access, so CompactClassifier(path).classes_ works as before.
        if name in _LOADED_ATTRIBUTES and "model_path" in self.__dict__ and "_content" not in self.__dict__:
            self.load()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def from_bytes(cls, content, metadata=None, *, num_threads=1, batch_size=64):
        """Build from model bytes (and its metadata when the bytes carry none)."""
        self = cls(None, num_threads=num_threads, batch_size=batch_size)
        content = bytes(content)
        self._setup(content, metadata if metadata is not None else read_metadata(content), "the model bytes")
        return self

    def _setup(self, content, metadata, source):
        """Check the parameters and the description, set the loaded attributes, then build the interpreter."""
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) \
                or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}.")
        if isinstance(self.num_threads, bool) or not isinstance(self.num_threads, (int, np.integer)) \
                or not (self.num_threads >= 1 or self.num_threads == -1):
            raise ValueError(f"num_threads must be a positive integer (or -1: the interpreter's default), "
                             f"got {self.num_threads!r}.")
        metadata = _validate(metadata, source)
        self._content = content
        self.metadata_ = metadata
        self.classes_ = np.asarray(metadata["classes"])
        self.n_samples_ = int(metadata["n_samples"])
        self.n_features_in_ = self.n_samples_
        self.sample_rate_ = int(metadata["sample_rate"])
        self.multilabel_ = bool(metadata.get("multilabel", False))
        self._interpreter = None
        try:
            self._runner(source)  # at load time: a bad file or a description of another model fails here
        except Exception:
            for name in _LOADED_ATTRIBUTES:  # not half loaded: the next use tries (and fails) again
                self.__dict__.pop(name, None)
            raise

    def _runner(self, source=None):
        if self._interpreter is None:
            source = source or str(self.model_path or "the model bytes")
            try:
                interpreter = _make_interpreter(self._content, int(self.num_threads))
            except (ValueError, RuntimeError) as error:
                raise ValueError(f"{source} is not a TFLite model the interpreter can load ({error}); "
                                 "export it again with `sklkws export`.") from None
            inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
            if len(inputs) != 1 or len(outputs) != 1:
                raise ValueError(f"{source} has {len(inputs)} inputs and {len(outputs)} outputs; an sklkws "
                                 "model has one of each (audio in, probabilities out).")
            n_in, n_out = int(inputs[0]["shape"][-1]), int(outputs[0]["shape"][-1])
            if n_in != self.n_samples_:
                raise ValueError(f"{source}: the description says clips of {self.n_samples_} samples but the "
                                 f"model takes {n_in}; the description belongs to another model: re-export it.")
            if n_out != len(self.classes_):
                raise ValueError(f"{source}: the description lists {len(self.classes_)} classes but the model "
                                 f"has {n_out} outputs; the description belongs to another model: re-export it.")
            self._input, self._fixed_batch = inputs[0]["index"], _input_batch(inputs[0])
            self._output = outputs[0]["index"]
            self._batch = None
            if self._fixed_batch is not None:
                interpreter.allocate_tensors()
            self._interpreter = interpreter
        return self._interpreter

    def _check_X(self, X):
        return check_clips(X, self.n_samples_, self.sample_rate_)

    def predict_proba(self, X):
        """Class (or label) probabilities of each clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Float audio in [-1, 1], or int16 PCM.

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
            For a hard-voting ensemble: the (weighted) share of member votes.
        """
        X = self._check_X(X)
        interpreter = self._runner()
        out = np.empty((len(X), len(self.classes_)), dtype=np.float32)
        # Batch by batch: the graph's own fixed batch (1 by default: one invoke per clip, the
        # unit of work on a device), or batch_size clips in a resizable graph.
        step = self._fixed_batch or int(self.batch_size)
        for start in range(0, len(X), step):
            chunk = X[start:start + step]
            n = len(chunk)
            if self._fixed_batch is not None and n < step:
                chunk = np.concatenate([chunk, np.zeros((step - n, X.shape[1]), dtype=np.float32)])
            elif self._fixed_batch is None and self._batch != n:
                interpreter.resize_tensor_input(self._input, [n, self.n_samples_])
                interpreter.allocate_tensors()
                self._batch = n
            interpreter.set_tensor(self._input, np.ascontiguousarray(chunk))
            interpreter.invoke()
            out[start:start + n] = interpreter.get_tensor(self._output)[:n]
        return out

    def predict(self, X):
        """Most probable class, or the labels with probability of at least 0.5 (multi-label).

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)

        Returns
        -------
        y : ndarray of shape (n_clips,) or (n_clips, n_labels)
        """
        return proba_to_labels(self.predict_proba(X), self.classes_, self.multilabel_)

    def score(self, X, y):
        """Accuracy (subset accuracy for multi-label) on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
        y : array-like of shape (n_clips,) or (n_clips, n_labels)

        Returns
        -------
        accuracy : float
        """
        pred, y = self.predict(X), np.asarray(y)
        if self.multilabel_:
            return float(np.mean(np.all(pred == y, axis=1)))
        return float(np.mean(pred == y))

    def get_params(self, deep=True):
        """The constructor's parameters (scikit-learn's estimator interface).

        Parameters
        ----------
        deep : bool, default=True
            Unused: no sub-estimators.

        Returns
        -------
        params : dict
        """
        return {"model_path": self.model_path, "num_threads": self.num_threads, "batch_size": self.batch_size,
                "sidecar": self.sidecar}

    def __sklearn_tags__(self):
        # Called by scikit-learn only, so scikit-learn is importable here; the device side
        # never imports it.
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_label=self.multilabel_), requires_fit=False,
                    input_tags=InputTags(two_d_array=True))

    def __sklearn_is_fitted__(self):
        return True

    def __getstate__(self):
        """Model bytes and metadata only: the interpreter is rebuilt (and the file checked) on load."""
        self.load()  # a pickle carries the model by value
        return {"model_path": self.model_path, "num_threads": self.num_threads, "batch_size": self.batch_size,
                "sidecar": self.sidecar, "content": self._content, "metadata": self.metadata_}

    def __setstate__(self, state):
        self.model_path, self.num_threads = state["model_path"], state["num_threads"]
        self.batch_size, self.sidecar = state["batch_size"], state.get("sidecar")
        self._setup(state["content"], state["metadata"], str(self.model_path or "the unpickled model"))

    def __repr__(self):
        source = self.model_path if self.model_path is not None else "<bytes>"
        if "_content" not in self.__dict__:  # not loaded yet: repr never reads the file
            return f"CompactClassifier({str(source)!r})"
        return f"CompactClassifier({str(source)!r}, classes={len(self.classes_)}, quantize={self.metadata_.get('quantize')!r})"


#: Top-level modules of the training stack: a pickle needing one of them is a training pipeline.
TRAINING_MODULES = ("sklearn", "keras", "tensorflow", "librosa", "soundfile", "imblearn", "scipy", "optuna")


def load_model(path, *, num_threads=1):
    """Load a model on the device: a ``.tflite`` file (safe) or a joblib-saved model.

    Parameters
    ----------
    path : str or path-like
        A ``.tflite`` file from ``sklkws export`` (no pickled code runs), or a joblib
        file: a :class:`CompactClassifier` from :func:`sklkws.export.to_compact`
        (loads with numpy, joblib and LiteRT), or a full training pipeline (needs the
        training stack; only your own or trusted files, loading runs pickled code).
    num_threads : int, default=1
        Interpreter threads of a ``.tflite`` model.

    Returns
    -------
    model : CompactClassifier or the unpickled object

    Raises
    ------
    ValueError
        If the file does not exist.
    ImportError
        If a joblib file needs the training stack (scikit-learn, Keras, TensorFlow, ...)
        that is not installed: the message says what to use on the device instead.

    Examples
    --------
    >>> model = load_model("kws.tflite", num_threads=4)  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file.")
    if path.suffix == ".tflite":
        return CompactClassifier(path, num_threads=num_threads).load()
    try:
        import joblib
    except ImportError:
        raise ImportError(f"Loading {path} needs joblib: pip install joblib (it is in \"sklkws[device]\"), "
                          "or load the .tflite file instead.") from None
    try:
        return joblib.load(path)
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in TRAINING_MODULES:
            raise
        raise ImportError(
            f"{path} holds a full training pipeline, which needs {missing} (the training stack) to load. "
            "On the device load a compact model instead: on the training machine run "
            "joblib.dump(sklkws.export.to_compact(pipeline, X_calibration), 'kws_compact.joblib'), or "
            f"`sklkws export {path.name} --out kws.tflite --data CLIPS`; or install the training stack here "
            "(pip install \"sklkws[train]\", 64-bit only)."
        ) from error
