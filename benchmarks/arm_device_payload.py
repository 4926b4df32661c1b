"""The payload of benchmarks/arm_device.sh, made on the training machine: a tiny model three ways and a WAV.

Writes into OUT (the first argument):

- ``tiny.tflite`` (+ ``tiny.tflite.json``): the checked export of a tiny CNN pipeline;
- ``tiny_compact.joblib``: :func:`sklkws.export.to_compact` of the same pipeline, joblib-saved;
- ``tiny_pipeline.joblib``: the full Keras pipeline (the device must refuse it with advice);
- ``clips.npz``: check clips ``X`` with the training machine's predictions ``expected``;
- ``tones.wav``: 6 s of 16-bit PCM with three tone "keywords" for ``sklkws listen``.

The model learns tone bursts (the test suite's tiny task): it proves the device path
installs and runs, not keyword accuracy.
"""

import sys
import wave
from pathlib import Path

import joblib
import numpy as np
from sklearn.pipeline import make_pipeline

from sklkws.export import export_compact, to_compact
from sklkws.features import MelFeatures
from sklkws.models import KerasCNNClassifier
from sklkws.preprocessing import Normalizer

SR = 16000
TONES = {"low": 400.0, "mid": 1200.0, "high": 3000.0}


def tone_clips(n, rng):
    labels = rng.choice([*TONES, "_silence_"], n)
    X = 0.02 * rng.standard_normal((n, SR))
    t = np.arange(SR // 4) / SR
    for i, label in enumerate(labels):
        if label in TONES:
            start = rng.integers(0, SR - len(t))
            X[i, start:start + len(t)] += 0.5 * np.sin(2 * np.pi * TONES[label] * t) * np.hanning(len(t))
    return X.astype(np.float32), labels


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    X, y = tone_clips(240, rng)
    X_check, y_check = tone_clips(100, rng)
    network = KerasCNNClassifier("cnn9", {"filters": (4, 8)}, learning_rate=1e-2, batch_size=8, epochs=6,
                                 random_state=0)
    pipeline = make_pipeline(Normalizer(), MelFeatures(n_mels=20, hop_length=320), network).fit(X, y)
    export_compact(pipeline, out / "tiny.tflite", quantize=None, validation_data=(X_check, y_check), n_runs=20)
    compact = to_compact(pipeline, quantize=None)
    joblib.dump(compact, out / "tiny_compact.joblib")
    joblib.dump(pipeline, out / "tiny_pipeline.joblib")
    np.savez(out / "clips.npz", X=X_check[:20], expected=compact.predict(X_check[:20]).astype(str),
             proba=compact.predict_proba(X_check[:20]))
    stream = 0.02 * rng.standard_normal(6 * SR)
    t = np.arange(SR // 4) / SR
    for second, name in zip((1, 3, 5), ("low", "high", "mid")):
        stream[second * SR:second * SR + len(t)] += 0.5 * np.sin(2 * np.pi * TONES[name] * t) * np.hanning(len(t))
    with wave.open(str(out / "tones.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SR)
        f.writeframes((np.clip(stream, -1, 1) * 32767).astype("<i2").tobytes())
    print(f"payload in {out}: tiny.tflite {(out / 'tiny.tflite').stat().st_size:,} bytes, "
          f"tiny_compact.joblib {(out / 'tiny_compact.joblib').stat().st_size:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
