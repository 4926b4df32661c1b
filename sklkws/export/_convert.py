"""Fitted pipeline -> one Keras graph on raw audio -> one TFLite artifact with its description."""

import contextlib
import io
import json
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

from .. import __version__
from ..datasets import SAMPLE_RATE
from ..layers import MelFeaturesLayer, from_transformer
from ..models import count_macs, float32_model
from ..device._compact import FORMAT, METADATA_NAME, _make_interpreter, check_clips, sidecar_path
from ..device._report import BUDGETS, CompactLimitError, compact_report, format_report

__all__ = ["VoteLayer", "build_inference_model", "compact_bytes", "export_compact", "inference_macs", "read_export_clips",
           "to_compact", "to_tflite"]

#: Name prefix of every front-end layer and of the vote: the ops kept in float32 under int8.
FRONTEND_PREFIX = "sklkws_fe"
VOTE_NAME = "sklkws_vote"


@keras.saving.register_keras_serializable(package="sklkws")
class VoteLayer(keras.layers.Layer):
    """The vote of a :class:`~sklearn.ensemble.VotingClassifier`'s members, in the graph.

    ``"soft"``: weighted mean of the members' probabilities. ``"hard"``: weighted
    share of the members' votes (one-hot of each member's argmax), whose argmax is
    the ensemble's prediction (ties go to the first class, as in scikit-learn).

    Parameters
    ----------
    voting : {"soft", "hard"}, default="soft"
    weights : list of float, default=None
        One per member; equal when None.
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, voting="soft", weights=None, **kwargs):
        super().__init__(**kwargs)
        if voting not in ("soft", "hard"):
            raise ValueError(f"voting must be 'soft' or 'hard', got {voting!r}.")
        self.voting = voting
        self.weights_ = None if weights is None else [float(w) for w in weights]

    def call(self, inputs):
        weights = self.weights_ or [1.0] * len(inputs)
        n_classes = inputs[0].shape[-1]
        total = 0.0
        for w, p in zip(weights, inputs):
            if self.voting == "hard":
                p = ops.one_hot(ops.argmax(p, axis=-1), n_classes)
            total = total + w * p
        return total / float(sum(weights))

    def get_config(self):
        return {**super().get_config(), "voting": self.voting, "weights": self.weights_}


def _unwrap(estimator):
    """A fitted search (GridSearchCV, ...) stands for its refitted best estimator."""
    return getattr(estimator, "best_estimator_", estimator)


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


class _GraphBuilder:
    """Walks a fitted estimator and builds its inference graph on a raw-audio tensor."""

    def __init__(self, stft):
        self.stft = stft
        self.frontend = []  # description of every front-end step, in graph order
        self.sample_rate = None
        self.voting = None
        self.networks = []  # every Keras network placed in the graph

    def transformers(self, steps, x):
        from sklearn.pipeline import Pipeline

        for step in steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            if hasattr(step, "fit_resample"):  # augmentation samplers act only while fitting
                continue
            if isinstance(step, Pipeline):
                x = self.transformers([s for _, s in step.steps], x)
                continue
            name = f"{FRONTEND_PREFIX}{len(self.frontend)}_{type(step).__name__.lower()}"
            layer = from_transformer(step, stft=self.stft, name=name)
            self.frontend.append({"step": type(step).__name__,
                                  "params": {k: _jsonable(v) for k, v in step.get_params(deep=False).items()}})
            if layer is not None:
                x = layer(x)
            if isinstance(layer, MelFeaturesLayer) and self.sample_rate is None:
                self.sample_rate = layer.sample_rate
        return x

    def member(self, estimator, x):
        from sklearn.ensemble import VotingClassifier
        from sklearn.pipeline import Pipeline

        estimator = _unwrap(estimator)
        if isinstance(estimator, Pipeline):  # also imblearn's Pipeline, a subclass
            x = self.transformers([s for _, s in estimator.steps[:-1]], x)
            return self.member(estimator.steps[-1][1], x)
        if isinstance(estimator, VotingClassifier):
            return self.vote(estimator, x)
        if hasattr(estimator, "student_"):  # a DistilledClassifier ships its student alone
            return self.member(estimator.student_, x)
        model = getattr(estimator, "model_", None)
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"Cannot export {type(estimator).__name__}: the exporter needs a fitted Pipeline, "
                "VotingClassifier or Keras classifier (an estimator with a keras.Model in model_), "
                "ending in a Keras network."
            )
        model = float32_model(model)  # a mixed-precision network converts as its float32 copy
        x = self.transformers(own_frontend(estimator), x)
        expected = tuple(model.input_shape[1:])
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"{type(estimator).__name__}'s network takes examples of shape {expected}, but the exported "
                f"graph gives it {tuple(x.shape[1:])} from raw audio: put the whole front end "
                "(e.g. MelFeatures) in the pipeline or in the classifier's frontend."
            )
        self.networks.append(model)
        # A fresh wrapper name per network: ensemble members may share the architecture's name.
        inputs, outputs = model.inputs, model.outputs
        inputs, outputs = inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs
        return keras.Model(inputs, outputs, name=f"sklkws_net{len(self.networks) - 1}")(x)

    def vote(self, ensemble, x):
        if ensemble.voting not in ("soft", "hard"):
            raise ValueError(f"Unsupported voting={ensemble.voting!r}.")
        n_classes = len(ensemble.classes_)
        outputs = []
        for member in ensemble.estimators_:
            classes = getattr(_final(member), "classes_", None)
            if classes is None or not np.array_equal(classes, np.arange(n_classes)):
                raise ValueError(f"VotingClassifier member {member!r} does not predict all {n_classes} classes.")
            outputs.append(self.member(member, x))
        self.voting = ensemble.voting
        return VoteLayer(ensemble.voting, ensemble._weights_not_none, name=VOTE_NAME)(outputs)


def own_frontend(estimator):
    """A fitted Keras classifier's own steps before its network: ``normalizer_``, then ``frontend_``."""
    return [step for step in (getattr(estimator, "normalizer_", None), getattr(estimator, "frontend_", None))
            if step is not None]


def _final(estimator):
    from sklearn.pipeline import Pipeline

    estimator = _unwrap(estimator)
    if hasattr(estimator, "student_"):
        return _final(estimator.student_)
    return _final(estimator.steps[-1][1]) if isinstance(estimator, Pipeline) else estimator


def _n_samples(estimator):
    n = getattr(_unwrap(estimator), "n_features_in_", None)
    if n is None:
        raise ValueError(f"{type(estimator).__name__} is not fitted (no n_features_in_): fit it before exporting.")
    return int(n)


def _build(estimator, stft, batch_size=None):
    builder = _GraphBuilder(stft)
    inputs = keras.Input((_n_samples(estimator),), batch_size=batch_size, name="audio")
    outputs = builder.member(estimator, inputs)
    return keras.Model(inputs, outputs, name="sklkws_inference"), builder


def build_inference_model(estimator, *, stft="fft", batch_size=None):
    """One Keras model computing a fitted pipeline's probabilities from raw audio.

    Parameters
    ----------
    estimator : fitted estimator
        A ``Pipeline`` (scikit-learn or imbalanced-learn) of sklkws transformers
        ending in a Keras classifier (:mod:`sklkws.models`, or any classifier with a
        ``keras.Model`` in ``model_``), such a classifier alone (its ``normalizer_``
        and ``frontend_`` included), a ``VotingClassifier`` of those, a
        :class:`~sklkws.distillation.DistilledClassifier` (its student only), or a
        fitted search wrapping one. Augmentation samplers are skipped (they act
        only while fitting).
    stft : {"fft", "matmul"}, default="fft"
        STFT form of the log-mel / MFCC layers (see :mod:`sklkws.layers`).
    batch_size : int, default=None
        A fixed batch dimension (static shapes throughout); None for any batch.

    Returns
    -------
    model : keras.Model
        Input ``(batch, n_samples)`` float32 audio in [-1, 1]; output
        ``(batch, n_classes)`` probabilities in ``classes_`` order (for hard voting:
        the share of votes).

    Raises
    ------
    ValueError
        Naming the step that has no on-device equivalent, or a network whose input
        the front end does not produce.
    """
    return _build(estimator, stft, batch_size)[0]


def inference_macs(estimator, *, stft="fft"):
    """Multiply-accumulates of one clip through the whole inference graph.

    The network's by :func:`sklkws.models.count_macs`, the front end's from its
    layers (FFT counted as ``n log2 n`` per frame), as :func:`sklkws.export.tflite_macs`
    counts the exported file, without converting anything.

    Parameters
    ----------
    estimator : fitted estimator
        As for :func:`build_inference_model`.
    stft : {"fft", "matmul"}, default="fft"

    Returns
    -------
    macs : int
    """
    model, builder = _build(estimator, stft)
    frontend = sum(layer.count_macs() for layer in model.layers if isinstance(layer, MelFeaturesLayer))
    # Each network on its own: count_macs multiplies a nested model by its number of calls.
    return int(frontend + sum(count_macs(network) for network in builder.networks))


def _convert(converter):
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(converter.convert())


def to_tflite(model, quantize=None, representative_data=None, *, quantize_frontend=False):
    """Convert an inference model (see :func:`build_inference_model`) to TFLite bytes.

    Parameters
    ----------
    model : keras.Model
    quantize : {"int8", "float16"} or None, default=None
        ``"int8"``: post-training integer quantisation calibrated on
        ``representative_data``; ``"float16"``: half-precision weights.
    representative_data : ndarray of shape (n_clips, n_samples) or list of ndarray, default=None
        Calibration clips (raw audio), required for ``"int8"``; one array per input
        for a model with several inputs.
    quantize_frontend : bool, default=False
        With ``"int8"``, also quantise the front-end ops (layers named
        ``sklkws_fe*``, except a ``Normalizer``'s) and the vote. By default they stay
        float32 and only the network is int8: a power spectrum spans far more than
        int8's range.

    Returns
    -------
    content : bytes
    """
    if quantize not in (None, "int8", "float16"):
        raise ValueError(f"quantize must be 'int8', 'float16' or None, got {quantize!r}.")
    if quantize == "int8" and representative_data is None:
        raise ValueError("quantize='int8' needs representative_data: a few hundred typical clips (raw audio).")
    try:
        import tensorflow as tf  # the TFLite converter: the one step of the exporter that needs TensorFlow
    except ImportError as error:
        raise ImportError(
            "Converting to TFLite needs TensorFlow (pip install \"sklkws[train]\"); a model trained with "
            "another Keras backend converts on a machine that has it (joblib-save it there first)."
        ) from error
    with tempfile.TemporaryDirectory() as saved_model:
        # Keras 3: a SavedModel export, then the SavedModel converter (written once, converted once or twice).
        with contextlib.redirect_stdout(io.StringIO()):
            specs = [keras.InputSpec(shape=tuple(t.shape), dtype="float32") for t in model.inputs]
            # A model of several inputs is called with their list as its one argument.
            signature = specs if len(specs) == 1 else [specs]
            model.export(saved_model, format="tf_saved_model", verbose=False, input_signature=signature)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        if quantize is None:
            return _convert(converter)
        float_content = _convert(converter) if quantize == "int8" else None
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
            return _convert(converter)
        # One array per model input (a streaming network has two: frames and window peaks).
        inputs = representative_data if isinstance(representative_data, (list, tuple)) else [representative_data]
        inputs = [np.asarray(a, dtype=np.float32) for a in inputs]

        def representative():
            for i in range(len(inputs[0])):
                yield [a[i:i + 1] for a in inputs]

        converter.representative_dataset = representative
        names = [d["name"] for d in _make_interpreter(float_content, 1).get_tensor_details()]
        if quantize_frontend:
            # Loudness normalisation stays float32 even so: quantised, a quiet clip's peak
            # rounds to 0 and the division aborts the interpreter.
            float_ops = [n for n in names if FRONTEND_PREFIX in n and "_normalizer" in n]
            if not float_ops:
                return _convert(converter)
        else:
            # Selective quantisation (the documented QuantizationDebugger route): the front end
            # and the vote stay float32, every other op is quantised.
            float_ops = [n for n in names if FRONTEND_PREFIX in n or VOTE_NAME in n]
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=representative,
                debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=float_ops),
            )
            return bytes(debugger.get_nondebug_quantized_model())


def embed_metadata(content, metadata, *, strip=True, graphs=None):
    """Add the JSON description to a .tflite flatbuffer as a ``sklkws_metadata`` entry.

    With ``strip``, tensor names and signatures are dropped first (they are about a
    fifth of a small model's file; inputs and outputs are found by position).
    ``graphs`` maps entry names to further bytes stored the same way (the streaming
    pair's two graphs).
    """
    # TensorFlow's copies of the schema: importing ai_edge_litert would load its native
    # library beside TensorFlow's, which crashes later training (see _compact._interpreter_class).
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    if strip:
        flatbuffer_utils.strip_strings(model)
    entries = {METADATA_NAME: json.dumps(metadata).encode("utf-8"), **(graphs or {})}
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() not in entries]
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(model.buffers) - 1
        model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _metadata(estimator, builder, n_samples, quantize, quantize_frontend, stft):
    final = _final(estimator)
    classes = _unwrap(estimator).classes_
    return {
        "format": FORMAT,
        "classes": [c.item() if isinstance(c, np.generic) else c for c in classes],
        "multilabel": bool(getattr(final, "_multilabel", False)) and builder.voting is None,
        "n_samples": n_samples,
        "sample_rate": builder.sample_rate or SAMPLE_RATE,
        "input": "float32 audio in [-1, 1], shape (n_clips, n_samples); int16 PCM is read as x / 32768",
        "output": "hard-vote shares" if builder.voting == "hard" else "probabilities",
        "quantize": quantize,
        "quantized_frontend": bool(quantize == "int8" and quantize_frontend),
        "stft": stft,
        "voting": builder.voting,
        "frontend": builder.frontend,
        "estimator": type(_unwrap(estimator)).__name__,
        "sklkws_version": __version__,
    }


def compact_bytes(estimator, quantize="int8", representative_data=None, *, stft="fft", quantize_frontend=False,
                  n_calibration=200, batch_size=1, strip=True, streaming=False):
    """The compact artifact's bytes (metadata embedded) and its metadata, without writing or checking.

    Parameters are those of :func:`export_compact`.

    Returns
    -------
    content : bytes
    metadata : dict
    """
    n_samples = _n_samples(estimator)
    model, builder = _build(estimator, stft, batch_size)
    calibration = None
    if representative_data is not None:
        calibration = check_clips(representative_data, n_samples)
        if len(calibration) > n_calibration:
            rows = np.random.default_rng(0).choice(len(calibration), n_calibration, replace=False)
            calibration = calibration[np.sort(rows)]
    content = to_tflite(model, quantize, calibration, quantize_frontend=quantize_frontend)
    metadata = _metadata(estimator, builder, n_samples, quantize, quantize_frontend, stft)
    metadata["batch_size"] = batch_size
    graphs = None
    if streaming:
        from ._streaming import FRAMES_NAME, WINDOWS_NAME, streaming_bytes

        frames, windows, metadata["streaming"] = streaming_bytes(estimator, quantize, calibration, stft=stft)
        graphs = {FRAMES_NAME: frames, WINDOWS_NAME: windows}
        from ..device._spotter import DEFAULTS
        from ._stateful import STEP_NAME, stateful_bytes

        # A network that streams with state (arch="tcresnet_stream" after a per-frame front end) also
        # gets its step graph, for the spotter's default hop; any other keeps the pair alone.
        hop = int(round(DEFAULTS["hop"] * metadata["sample_rate"]))
        try:
            graphs[STEP_NAME], metadata["stateful"] = stateful_bytes(estimator, hop, quantize, calibration,
                                                                     stft=stft)
        except ValueError as error:
            metadata["stateful"] = {"refused": str(error)}
    return embed_metadata(content, metadata, strip=strip, graphs=graphs), metadata


def to_compact(estimator, representative_data=None, quantize="int8", *, stft="fft", quantize_frontend=False,
               n_calibration=200, batch_size=1, num_threads=1, streaming=False):
    """A fitted pipeline as a :class:`~sklkws.device.CompactClassifier`, in memory: joblib-save it for the device.

    The object holds the exported model's bytes and its description only, so a
    ``joblib.dump`` of it loads on a Raspberry Pi with numpy, joblib and the LiteRT
    interpreter (``pip install "sklkws[device]"``), without TensorFlow, Keras or
    scikit-learn. Nothing is written and no limit is checked: use
    :func:`export_compact` for the checked ``.tflite`` file.

    Parameters
    ----------
    estimator : fitted estimator
        See :func:`build_inference_model`.
    representative_data : array-like of shape (n_clips, n_samples), default=None
        Calibration clips (raw audio); required for int8. Use clips the model was not
        trained on when you have them.
    quantize : {"int8", "float16"} or None, default="int8"
    stft, quantize_frontend, n_calibration, batch_size, streaming
        See :func:`export_compact`.
    num_threads : int, default=1
        Interpreter threads of the returned classifier.

    Returns
    -------
    compact : CompactClassifier
        ``model_path`` is None; ``predict`` / ``predict_proba`` / ``classes_`` as the pipeline's.

    Examples
    --------
    >>> compact = to_compact(pipeline, X_calibration)  # doctest: +SKIP
    >>> joblib.dump(compact, "kws_compact.joblib")  # doctest: +SKIP
    >>> # on the Pi: joblib.load("kws_compact.joblib").predict(clips)
    """
    from ..device._compact import CompactClassifier

    content, metadata = compact_bytes(estimator, quantize, representative_data, stft=stft,
                                      quantize_frontend=quantize_frontend, n_calibration=n_calibration,
                                      batch_size=batch_size, streaming=streaming)
    return CompactClassifier.from_bytes(content, metadata, num_threads=num_threads)


def export_compact(
    estimator, path, quantize="int8", representative_data=None, *, validation_data=None, stft="fft",
    quantize_frontend=False, n_calibration=200, batch_size=1, check=True, verbose=True, n_runs=100, num_threads=1,
    budget="pi", device=None, max_size_bytes=None, max_device_latency_ms=None, streaming=False,
):
    """Write a fitted pipeline as ONE TFLite model on raw audio, and check it.

    The file holds the whole inference path (pre-emphasis, normalisation, the
    log-mel / MFCC front end as graph ops from the transformers' parameters, the
    network, a VotingClassifier's vote) and its description (labels, clip length,
    sample rate, front-end parameters) as JSON metadata; the same JSON is written
    beside it as ``<path>.json``. Load it with :class:`sklkws.export.CompactClassifier`.

    Parameters
    ----------
    estimator : fitted estimator
        See :func:`build_inference_model`.
    path : str or path-like
        Output ``.tflite`` file.
    quantize : {"int8", "float16"} or None, default="int8"
        int8: the network in int8, calibrated on ``representative_data`` (the
        front end stays float32 unless ``quantize_frontend``); float16: half-size
        weights; None: float32.
    representative_data : array-like of shape (n_clips, n_samples), default=None
        Typical clips (raw audio); required for int8. Without ``validation_data``
        the clips not drawn for calibration are the parity clips (none are checked
        twice).
    validation_data : (X, y) or (X,), default=None
        Labelled clips for the parity check: clips the model was not trained on
        and that did not calibrate it (e.g. the test set).
    stft : {"fft", "matmul"}, default="fft"
    quantize_frontend : bool, default=False
    n_calibration : int, default=200
        Calibration clips drawn (reproducibly) from ``representative_data``.
    batch_size : int or None, default=1
        The graph's fixed batch. 1 (what a device streams) gives static shapes
        throughout: no shape ops, a smaller file, the whole network delegated to
        XNNPACK. None makes the batch resizable at run time.
    check : bool, default=True
        Raise :class:`CompactLimitError` when a limit is broken (the file stays).
    verbose : bool, default=True
        Print the report.
    budget : {"pi", "micro"}, default="pi"
        The named limits checked (see :data:`sklkws.device.BUDGETS`).
    n_runs, num_threads, device, max_size_bytes, max_device_latency_ms
        See :func:`compact_report`.
    streaming : bool, default=False
        Also embed the streaming pair (:mod:`sklkws.export._streaming`): the graphs
        with which :class:`~sklkws.device.KeywordSpotter` computes each stream frame's
        front end once instead of once per window. It holds the networks a second
        time, so the file grows by about the networks' size (the size check counts it).
        A network that streams with state (``arch="tcresnet_stream"`` after
        ``MelFeatures(center=False, top_db=None)``) also gets its step graph
        (:mod:`sklkws.export._stateful`), which runs the network on each hop's new
        frames only; ``metadata["stateful"]`` says why not for any other.

    Returns
    -------
    report : dict
        See :func:`compact_report`.

    Raises
    ------
    ValueError
        For a step with no on-device equivalent (naming it), or missing int8 calibration clips.
    CompactLimitError
        When ``check`` and the file breaks the budget's size or estimated latency,
        or its predictions drift from the original's (float: < 99% identical; int8:
        worse by more than 0.5 points beyond what the check clips resolve).

    Examples
    --------
    >>> report = export_compact(pipeline, "kws.tflite", "int8", X_train[:500],
    ...                         validation_data=(X_test, y_test))  # doctest: +SKIP
    """
    path = Path(path)
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {sorted(BUDGETS)}, got {budget!r}.")
    n_samples = _n_samples(estimator)
    calibration = X_rest = None
    if representative_data is not None:
        representative_data = check_clips(representative_data, n_samples)
        calibration, X_rest = representative_data, representative_data[:0]
        if quantize != "int8":  # nothing is calibrated: every clip can check
            X_rest = representative_data
        elif len(representative_data) > n_calibration:
            rows = np.zeros(len(representative_data), dtype=bool)
            rows[np.random.default_rng(0).choice(len(representative_data), n_calibration, replace=False)] = True
            calibration, X_rest = representative_data[rows], representative_data[~rows]
    content, metadata = compact_bytes(estimator, quantize, calibration, stft=stft,
                                      quantize_frontend=quantize_frontend, n_calibration=n_calibration,
                                      batch_size=batch_size, streaming=streaming)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    sidecar_path(path).write_text(json.dumps(metadata, indent=2), encoding="utf-8")

    X_check, y_check = (X_rest if X_rest is not None and len(X_rest) else None), None
    if validation_data is not None:
        X_check = check_clips(validation_data[0], n_samples)
        y_check = validation_data[1] if len(validation_data) > 1 else None
    report = compact_report(
        path, estimator=estimator, X=X_check, y=y_check, n_runs=n_runs, num_threads=num_threads, budget=budget,
        device=device, max_size_bytes=max_size_bytes, max_device_latency_ms=max_device_latency_ms,
    )
    if verbose:
        print(format_report(report))
    if check and not report["passed"]:
        raise CompactLimitError(f"{path} breaks a limit: " + "; ".join(report["failures"]), report)
    return report


def _load_npz(path):
    """X (and y) of an .npz; object (e.g. string) labels from load_speech_commands read as str."""
    with np.load(path) as arrays:
        if "X" not in arrays:
            raise ValueError(f"{path} has no array named 'X' (it has {sorted(arrays)}): save it with "
                             "np.savez(path, X=clips, y=labels).")
        X = arrays["X"]
        if "y" not in arrays:
            return X, None
        try:
            return X, arrays["y"]
        except ValueError:  # an object array: np.savez pickles it
            pass
    # Object labels (the loaders return them) need pickle: as trusted as the model file itself.
    with np.load(path, allow_pickle=True) as arrays:
        return X, np.asarray(arrays["y"]).astype(str)


def _read_clips(data, subset=None):
    data = Path(data)
    if not data.exists():
        raise ValueError(f"{data}: no such file or folder; give a Speech Commands folder, a .npz with X (and y) "
                         "or a .npy of clips.")
    if data.suffix == ".npy":
        return np.load(data), None, None
    if data.suffix == ".npz":
        X, y = _load_npz(data)
        return X, y, None
    if not data.is_dir():
        raise ValueError(f"{data}: expected a Speech Commands folder, a .npz or a .npy file.")
    from ..datasets import load_speech_commands

    return load_speech_commands(data, subset=subset, n_jobs=-1)


def _draw(X, y, n_clips, seed=0):
    if len(X) > n_clips:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), n_clips, replace=False))
        X, y = X[rows], None if y is None else y[rows]
    return X, y


def _load_clips(data, n_clips, seed=0, test=None, n_calibration=200):
    """(X_calibration, X_check, y_check) from ``data`` (and ``test``), disjoint, reproducibly.

    With ``test``, ``data`` calibrates and ``test`` checks. Without it, a Speech Commands
    folder holding ``validation_list.txt`` and ``testing_list.txt`` calibrates on its
    validation clips and checks on its test clips; any other source is split in two:
    whole speakers (or clips) on each side.
    """
    if test is not None:
        X, _, _ = _read_clips(data)
        X_test, y_test, _ = _read_clips(test, subset="testing" if Path(test).is_dir() and
                                        (Path(test) / "testing_list.txt").is_file() else None)
        X_check, y_check = _draw(X_test, y_test, n_clips, seed)
        return _draw(X, None, n_calibration, seed)[0], X_check, y_check
    root = Path(data)
    if root.is_dir() and (root / "validation_list.txt").is_file() and (root / "testing_list.txt").is_file():
        X_cal = _read_clips(root, subset="validation")[0]
        X_test, y_test, _ = _read_clips(root, subset="testing")
        X_check, y_check = _draw(X_test, y_test, n_clips, seed)
        return _draw(X_cal, None, n_calibration, seed)[0], X_check, y_check
    X, y, groups = _read_clips(data)
    X, y = np.asarray(X), None if y is None else np.asarray(y)
    rng = np.random.default_rng(seed)
    # Calibration and check clips never overlap; with speakers, no speaker is on both sides.
    keys = np.asarray(groups) if groups is not None else np.arange(len(X))
    unique = np.unique(keys)
    calibrate = np.isin(keys, rng.permutation(unique)[: max(1, len(unique) // 3)])
    if calibrate.all():
        raise ValueError(f"{data} has too few clips to calibrate and check on separate clips; give --test.")
    X_check, y_check = _draw(X[~calibrate], None if y is None else y[~calibrate], n_clips, seed)
    return _draw(X[calibrate], None, n_calibration, seed)[0], X_check, y_check


def read_export_clips(data=None, test=None, n_clips=500):
    """The calibration and check clips of an export, from the files a user names.

    Parameters
    ----------
    data : str or path-like, default=None
        Clips for int8 calibration and the parity check: a Speech Commands folder,
        a ``.npz`` with ``X`` (and ``y``, string labels included) or a ``.npy`` of
        clips. Calibration and check clips are always disjoint (see ``test``).
    test : str or path-like, default=None
        Labelled check clips (e.g. the test folder); ``data`` then only calibrates.
        Without it, a folder with the dataset's split lists calibrates on its
        validation clips and checks on its test clips; other data is split by
        speaker (a third calibrates).
    n_clips : int, default=500
        Check clips drawn (200 calibrate).

    Returns
    -------
    X_calibration : ndarray or None
    X_check : ndarray or None
    y_check : ndarray or None
    """
    if data is not None:
        return _load_clips(data, n_clips, test=test)
    if test is not None:
        X, y, _ = _read_clips(test)
        return (None, *_draw(X, y, n_clips))
    return None, None, None
