"""MelFeatures.transform against librosa's strongest forms, same clips, same parameters, one run.

    python benchmarks/features.py [--n-clips 2000] [--data DIR] [--repeats 7] [--loop-repeats 1]

For log-mel and MFCC it times, the median of ``--repeats`` runs taken in turn:

- **librosa batched**: one ``librosa.feature.melspectrogram`` call on the 2-D array
  of all clips, ``librosa.power_to_db`` with the per-clip ``top_db`` floor (librosa's
  own floor on a stacked array is global), and one ``librosa.feature.mfcc(S=...)``;
- **librosa loop**: the same calls clip by clip;
- **MelFeatures**: ``MelFeatures(kind).transform`` on the same array.

It prints clips/s, the speed-up over each peer (target: >= 3x the batched call),
the spread of the per-repeat ratio to the batched call, and the largest difference
from librosa. The clips are real Speech Commands recordings from ``--data``, else from
``$SKLKWS_SPEECH_COMMANDS`` or ``../shared/data/speech_commands`` when one exists;
otherwise noisy tones are generated.
"""

import argparse
import os
import time
from pathlib import Path

import librosa
import numpy as np

from sklkws.features import MelFeatures

PARAMS = dict(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40, fmin=20.0)
TOP_DB = 80.0


def make_clips(n_clips, data=None, seed=0):
    if data:
        # A random sample of the recordings, decoded directly: loading all 105k clips
        # to time 2,000 would dominate the run.
        import soundfile as sf

        from sklkws.preprocessing import pad_clips

        paths = sorted(
            p for p in Path(data).glob("*/*") if p.suffix in (".wav", ".flac") and not p.parent.name.startswith("_")
        )
        chosen = np.random.default_rng(seed).choice(len(paths), size=min(n_clips, len(paths)), replace=False)
        X, _ = pad_clips([sf.read(paths[i], dtype="float32")[0] for i in chosen], length=16000)
        return X
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    tones = np.sin(2 * np.pi * rng.uniform(100, 4000, size=(n_clips, 1)) * t)
    return (0.3 * tones + 0.05 * rng.standard_normal((n_clips, 16000))).astype(np.float32)


def _librosa_mel(y):
    return librosa.feature.melspectrogram(
        y=y, sr=PARAMS["sample_rate"], n_fft=PARAMS["n_fft"], hop_length=PARAMS["hop_length"],
        n_mels=PARAMS["n_mels"], fmin=PARAMS["fmin"],
    )


def librosa_batched(X, kind):
    S = librosa.power_to_db(_librosa_mel(X), top_db=None)
    S = np.maximum(S, S.max(axis=(1, 2), keepdims=True) - TOP_DB)  # librosa's floor, per clip
    return librosa.feature.mfcc(S=S, n_mfcc=13) if kind == "mfcc" else S


def librosa_loop(X, kind):
    out = []
    for x in X:
        S = librosa.power_to_db(_librosa_mel(x), top_db=TOP_DB)
        out.append(librosa.feature.mfcc(S=S, n_mfcc=13) if kind == "mfcc" else S)
    return np.stack(out)


def interleaved_times(fns):
    """Every time of each ``(function, repeats)``, the functions timed in turn, and the last results.

    Taking the peers in turn, rather than one after the other, lets a change in the
    machine's load hit all of them alike; the medians then set aside the repeats that
    another job slowed down.
    """
    times = [[] for _ in fns]
    results = [None] * len(fns)
    for r in range(max(n for _, n in fns)):
        for i, (fn, n) in enumerate(fns):
            if r < n:
                start = time.perf_counter()
                results[i] = fn()
                times[i].append(time.perf_counter() - start)
    return times, results


def default_data():
    """The Speech Commands folder the tests use, if there is one."""
    candidates = [
        os.environ.get("SKLKWS_SPEECH_COMMANDS"),
        Path(__file__).resolve().parents[2] / "shared" / "data" / "speech_commands",
    ]
    return next((str(c) for c in candidates if c and Path(c).is_dir()), None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=2000)
    parser.add_argument("--data", default=None, help="a Speech Commands folder (default: the tests' one, if any)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loop-repeats", type=int, default=1, help="repeats of the (slow) per-clip loop")
    args = parser.parse_args(argv)
    data = args.data or default_data()
    X = make_clips(args.n_clips, data)
    source = f"real clips from {data}" if data else "synthetic clips"
    print(f"{len(X)} {source} of {X.shape[1]} samples ({X.dtype}), {PARAMS}, top_db={TOP_DB}")
    for kind in ("logmel", "mfcc"):
        mel = MelFeatures(kind, top_db=TOP_DB, **PARAMS).fit(X[:1])
        librosa_batched(X[:10], kind), librosa_loop(X[:10], kind), mel.transform(X[:10])  # warm up
        (batch, loop, ours), (ref, _, out) = interleaved_times(
            [(lambda: librosa_batched(X, kind), args.repeats), (lambda: librosa_loop(X, kind), args.loop_repeats),
             (lambda: mel.transform(X), args.repeats)]
        )
        t_batch, t_loop, t_ours = np.median(batch), np.median(loop), np.median(ours)
        per_repeat = np.asarray(batch) / np.asarray(ours)
        n = len(X)
        print(
            f"{kind:7s} librosa batched {n / t_batch:6.0f} clips/s | librosa loop {n / t_loop:5.0f} clips/s"
            f" | MelFeatures {n / t_ours:6.0f} clips/s | {t_batch / t_ours:4.1f}x batched (target >= 3x;"
            f" per repeat {per_repeat.min():.1f}-{per_repeat.max():.1f}x), {t_loop / t_ours:5.1f}x loop"
            f" | max |diff| {np.abs(out - ref).max():.2e}"
        )


if __name__ == "__main__":
    main()
