"""MelFeatures.transform against a per-clip librosa loop, same clips, same parameters, one run.

    python benchmarks/features.py [--n-clips 2000] [--data DIR]

Prints clips/s for both, the speed ratio (target: >= 10x) and the largest
difference. With ``--data`` the clips are real Speech Commands recordings;
otherwise noisy tones are generated.
"""

import argparse
import time

import librosa
import numpy as np

from sklkws.features import MelFeatures

PARAMS = dict(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40, fmin=20.0)


def make_clips(n_clips, data=None, seed=0):
    if data:
        from sklkws.datasets import load_speech_commands

        X, _, _ = load_speech_commands(data)
        return X[np.random.default_rng(seed).choice(len(X), size=min(n_clips, len(X)), replace=False)]
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    tones = np.sin(2 * np.pi * rng.uniform(100, 4000, size=(n_clips, 1)) * t)
    return (0.3 * tones + 0.05 * rng.standard_normal((n_clips, 16000))).astype(np.float32)


def librosa_loop(X, kind):
    out = []
    for x in X:
        S = librosa.feature.melspectrogram(
            y=x, sr=PARAMS["sample_rate"], n_fft=PARAMS["n_fft"], hop_length=PARAMS["hop_length"],
            n_mels=PARAMS["n_mels"], fmin=PARAMS["fmin"],
        )
        S = librosa.power_to_db(S)
        out.append(librosa.feature.mfcc(S=S, n_mfcc=13) if kind == "mfcc" else S)
    return np.stack(out)


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=2000)
    parser.add_argument("--data", default=None, help="a Speech Commands folder (optional)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    X = make_clips(args.n_clips, args.data)
    print(f"{len(X)} clips of {X.shape[1]} samples, {PARAMS}")
    for kind in ("logmel", "mfcc"):
        mel = MelFeatures(kind, **PARAMS).fit(X[:1])
        librosa_loop(X[:10], kind), mel.transform(X[:10])  # warm caches and imports
        t_ref, ref = best_of(lambda: librosa_loop(X, kind), args.repeats)
        t_ours, ours = best_of(lambda: mel.transform(X), args.repeats)
        print(
            f"{kind:7s} librosa loop {len(X) / t_ref:9.0f} clips/s | MelFeatures {len(X) / t_ours:9.0f} clips/s"
            f" | speed-up {t_ref / t_ours:5.1f}x (target >= 10x) | max |diff| {np.abs(ours - ref).max():.2e} dB"
        )


if __name__ == "__main__":
    main()
