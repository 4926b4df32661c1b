"""Front-end layers: each computes what its transformer computes, in Keras and in TFLite.

Tolerances (float32 input; the documented contract of sklkws.layers): pre-emphasis 1e-6
absolute, normalisation 1e-6 relative, PadOrCrop exact, log-mel 1e-3 dB, MFCC 1e-3,
power spectrum 1e-5 of each clip's peak power.
"""

import keras
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from sklkws.export import tflite_macs, to_tflite
from sklkws.device._compact import _interpreter_class
from sklkws.features import GlobalStatFeatures, MelFeatures
from sklkws.layers import (
    MelFeaturesLayer,
    NormalizerLayer,
    PadOrCropLayer,
    PreemphasisLayer,
    from_transformer,
    frontend_model,
)
from sklkws.preprocessing import Normalizer, PadOrCrop, Preemphasis, TrimSilence

SR = 16000


@pytest.fixture(scope="module")
def clips():
    """Tones in noise at several levels, one silent clip and one half-silent clip."""
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    X = rng.uniform(0.01, 0.9, (8, 1)) * np.sin(2 * np.pi * rng.uniform(100, 6000, (8, 1)) * t)
    X = (X + 0.02 * rng.standard_normal((8, SR))).astype(np.float32)
    X[0] = 0.0
    X[1, :SR // 2] = 0.0
    return X


def assert_features_close(out, ref, kind):
    assert out.shape == ref.shape and out.dtype == np.float32
    if kind == "power":
        error = np.abs(out - ref) / np.maximum(ref.max(axis=(1, 2), keepdims=True), 1e-30)
        assert error.max() <= 1e-5, error.max()
    else:
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-3)


@pytest.mark.parametrize("stft", ["fft", "matmul"])
@pytest.mark.parametrize("kind", ["power", "logmel", "mfcc"])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("n_fft, hop_length", [(512, 160), (400, 160), (256, 320)])
def test_mel_layer_equals_mel_features(clips, stft, kind, center, n_fft, hop_length):
    step = MelFeatures(kind, n_fft=n_fft, hop_length=hop_length, n_mels=32, n_mfcc=12, fmin=50.0, fmax=7000.0,
                       center=center).fit(clips)
    layer = from_transformer(step, stft=stft)
    assert isinstance(layer, MelFeaturesLayer) and layer.stft == stft
    assert_features_close(np.asarray(layer(clips)), step.transform(clips), kind)


def test_mel_layer_flatten_and_top_db(clips):
    for step in (MelFeatures(flatten=True), MelFeatures(top_db=None), MelFeatures("mfcc", top_db=20.0)):
        step.fit(clips)
        np.testing.assert_allclose(np.asarray(from_transformer(step)(clips)), step.transform(clips), atol=1e-3)


@pytest.mark.parametrize("step", [
    Preemphasis(), Preemphasis(coef=0.5), Normalizer("peak"), Normalizer("minmax"), Normalizer("rms", target_dbfs=-30.0),
])
def test_waveform_layers_equal_transformers(clips, step):
    step.fit(clips)
    ref = step.transform(clips)
    out = np.asarray(from_transformer(step)(clips))
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("length, crop, pad", [(12000, "center", "right"), (12001, "left", "right"),
                                               (20000, "center", "right"), (20001, "center", "center")])
def test_pad_or_crop_layer_is_exact(clips, length, crop, pad):
    step = PadOrCrop(length, crop=crop, pad=pad).fit(clips)
    layer = from_transformer(step)
    assert isinstance(layer, PadOrCropLayer)
    np.testing.assert_array_equal(np.asarray(layer(clips)), step.transform(clips))


def test_unsupported_and_unfitted_steps_are_named(clips):
    assert from_transformer(PadOrCrop(SR, crop="random").fit(clips)) is None  # already that long: nothing to do
    with pytest.raises(ValueError, match="random"):
        from_transformer(PadOrCrop(8000, crop="random").fit(clips))
    for step in (TrimSilence().fit(clips), GlobalStatFeatures().fit(clips)):
        with pytest.raises(ValueError, match=type(step).__name__):
            from_transformer(step)
    with pytest.raises(NotFittedError):
        from_transformer(MelFeatures())
    with pytest.raises(ValueError, match="kind"):
        MelFeaturesLayer("cqt")
    with pytest.raises(ValueError, match="method"):
        NormalizerLayer("loudest")


def test_frontend_model_equals_the_pipeline_in_keras_and_in_tflite(clips, tmp_path):
    steps = [Preemphasis(), Normalizer(), MelFeatures("mfcc", n_mels=40, n_mfcc=13)]
    pipeline = make_pipeline(*steps).fit(clips)
    model = frontend_model([s for _, s in pipeline.steps], SR)
    ref = pipeline.transform(clips)
    np.testing.assert_allclose(model.predict(clips, verbose=0), ref, atol=1e-3)

    # TensorFlow's bundled interpreter: ai-edge-litert's beside TensorFlow crashes later training.
    Interpreter = _interpreter_class()

    content = to_tflite(model)
    interpreter = Interpreter(model_content=content)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, clips.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, clips)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, ref, atol=1e-3)  # the TFLite kernels keep the contract too
    mel = next(layer for layer in model.layers if isinstance(layer, MelFeaturesLayer))
    assert tflite_macs(content) == mel.count_macs() == 101 * (512 * 9 + 257 * 40 + 40 * 13)


def test_layers_round_trip_through_keras_files(clips, tmp_path):
    inputs = keras.Input((SR,))
    x = PreemphasisLayer(0.9)(inputs)
    x = NormalizerLayer("rms")(x)
    x = PadOrCropLayer(15000)(x)
    outputs = MelFeaturesLayer("logmel", n_mels=24, stft="matmul")(x)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "frontend.keras")
    loaded = keras.saving.load_model(tmp_path / "frontend.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(clips, verbose=0), model.predict(clips, verbose=0), atol=1e-5)
    assert loaded.layers[-1].get_config()["stft"] == "matmul"


def test_real_speech_clips(speech_commands_dir):
    import soundfile

    files = sorted((speech_commands_dir / "yes").glob("*.flac"))[:6] + sorted((speech_commands_dir / "no").glob("*.flac"))[:6]
    X = np.stack([np.pad(c, (0, SR - len(c))) for c in (soundfile.read(f, dtype="float32")[0][:SR] for f in files)])
    for step in (Preemphasis(), MelFeatures("logmel"), MelFeatures("mfcc", n_mfcc=20)):
        step.fit(X)
        np.testing.assert_allclose(np.asarray(from_transformer(step)(X)), step.transform(X), atol=1e-3)
