"""Tone-burst clips: the tiny keyword task of the export and device tests."""

import numpy as np

SR = 16000


def make_tones(n, rng, tones, amplitude=None):
    """Clips of noise, most with a 0.25 s tone burst (the 'keyword') somewhere inside.

    ``tones`` maps labels to frequencies (``"_silence_"`` clips get none); ``amplitude`` is the
    burst's peak, or None to draw it per clip from U(0.2, 0.8). Returns ``(X float32 (n, SR), y)``.
    """
    labels = rng.choice([*tones, "_silence_"], n)
    X = 0.02 * rng.standard_normal((n, SR))
    t = np.arange(SR // 4) / SR
    burst = np.hanning(len(t))
    for i, label in enumerate(labels):
        if label in tones:
            start = rng.integers(0, SR - len(t))
            peak = rng.uniform(0.2, 0.8) if amplitude is None else amplitude
            X[i, start:start + len(t)] += peak * np.sin(2 * np.pi * tones[label] * t) * burst
    return X.astype(np.float32), labels


def make_recording(X, rng, n_clips=20, tail=777):
    """``n_clips`` of the clips ``X`` end to end at levels drawn from U(0.2, 1), less ``tail``
    samples at the end: a stream whose windows fall off the clip grid. Returns float32 (n,)."""
    audio = np.concatenate([X[i] * rng.uniform(0.2, 1.0) for i in rng.permutation(len(X))[:n_clips]])
    return audio[:-tail].astype(np.float32)
