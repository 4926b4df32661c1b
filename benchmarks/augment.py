"""sklkws.augment against audiomentations, transform by transform and chained, same clips, one run.

    python benchmarks/augment.py [--n-clips 2000] [--data DIR] [--repeats 3]

Each row times one augmentation of the whole batch: sklkws' batch ``augment``
against a per-clip audiomentations loop writing into one output array (both end
with the augmented batch in memory), every transform applied to every clip
(p = 1) with the same parameter ranges. Runs alternate between the two sides and
the best of ``--repeats`` is kept, so both see the same machine load. Targets:
no row below 1x; >= 5x for Gaussian noise, time stretch and the chain. Speed
perturbation (tempo and pitch), which audiomentations lacks, is timed against a per-clip
``librosa.resample`` loop.
With ``--data`` the clips are real Speech Commands recordings; otherwise noisy
harmonic tones are generated.
"""

import argparse
import time

import numpy as np
from audiomentations import AddGaussianNoise, AddGaussianSNR, Compose
from audiomentations import Gain as AGain
from audiomentations import Shift as AShift
from audiomentations import TimeStretch as ATimeStretch

from sklkws.augment import AddNoise, AugmentChain, Gain, SpeedPerturb, TimeShift, TimeStretch

SR = 16000
SNR_DB = (5.0, 30.0)
SHIFT_MS = (-100.0, 100.0)
GAIN_DB = (-6.0, 6.0)
RATE = (0.8, 1.25)
SPEED = (0.9, 1.1)


def make_clips(n_clips, data=None, seed=0):
    if data:
        from sklkws.datasets import load_speech_commands

        X, _, _ = load_speech_commands(data)
        pick = np.random.default_rng(seed).choice(len(X), size=min(n_clips, len(X)), replace=False)
        return np.ascontiguousarray(X[pick], dtype=np.float32)
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    f0 = rng.uniform(100, 400, size=(n_clips, 1))
    tones = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    return (0.2 * tones + 0.02 * rng.standard_normal((n_clips, SR))).astype(np.float32)


def audiomentations_loop(transform, X):
    out = np.empty_like(X)
    for i, x in enumerate(X):
        out[i] = transform(samples=x, sample_rate=SR)
    return out


def librosa_speed_loop(X, seed=0):
    """Speed perturbation as one would write it per clip: librosa.resample, centre crop or pad.

    audiomentations has no speed (tempo and pitch) transform, so this is the peer.
    """
    import librosa

    rng = np.random.default_rng(seed)
    out = np.zeros_like(X)
    n = X.shape[1]
    for i, x in enumerate(X):
        y = librosa.resample(x, orig_sr=SR, target_sr=round(SR / rng.uniform(*SPEED)))
        if len(y) >= n:
            out[i] = y[(len(y) - n) // 2:][:n]
        else:
            start = (n - len(y)) // 2
            out[i, start:start + len(y)] = y
    return out


def ours(sampler):
    seeds = iter(range(10**6))
    return lambda X: sampler.augment(X, random_state=next(seeds))


def theirs(transform):
    return lambda X: audiomentations_loop(transform, X)


def pairs():
    shift_s = tuple(v / 1000 for v in SHIFT_MS)
    a_noise = AddGaussianSNR(min_snr_db=SNR_DB[0], max_snr_db=SNR_DB[1], p=1.0)
    a_shift = AShift(min_shift=shift_s[0], max_shift=shift_s[1], shift_unit="seconds", rollover=False,
                     fade_duration=0.0, p=1.0)
    a_gain = AGain(min_gain_db=GAIN_DB[0], max_gain_db=GAIN_DB[1], p=1.0)
    a_stretch = ATimeStretch(min_rate=RATE[0], max_rate=RATE[1], leave_length_unchanged=True, p=1.0)
    noise = AddNoise("white", snr_db=SNR_DB)
    shift = TimeShift(SHIFT_MS)
    gain = Gain(GAIN_DB)
    stretch = TimeStretch(RATE)
    return [
        # name, ours, theirs, target ratio
        ("gaussian noise (vs AddGaussianSNR)", ours(noise), theirs(a_noise), 5.0),
        ("gaussian noise (vs AddGaussianNoise)", ours(noise), theirs(AddGaussianNoise(p=1.0)), 5.0),
        ("pink noise (vs AddGaussianSNR)", ours(AddNoise("pink", snr_db=SNR_DB)), theirs(a_noise), 1.0),
        ("time shift (zero fill)", ours(shift), theirs(a_shift), 1.0),
        ("gain", ours(gain), theirs(a_gain), 1.0),
        ("time stretch (vs signalsmith, default)", ours(stretch), theirs(a_stretch), 5.0),
        ("time stretch (vs librosa phase vocoder)", ours(stretch),
         theirs(ATimeStretch(min_rate=RATE[0], max_rate=RATE[1], method="librosa_phase_vocoder", p=1.0)), 5.0),
        ("speed perturbation (vs librosa.resample)", ours(SpeedPerturb(SPEED)), librosa_speed_loop, 1.0),
        ("chain noise+shift+gain+stretch", ours(AugmentChain([noise, shift, gain, stretch])),
         theirs(Compose([a_noise, a_shift, a_gain, a_stretch], p=1.0)), 5.0),
    ]


def timed(fn, X):
    start = time.perf_counter()
    out = fn(X)
    return time.perf_counter() - start, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=2000)
    parser.add_argument("--data", default=None, help="a Speech Commands folder (optional)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    X = make_clips(args.n_clips, args.data)
    print(f"{len(X)} clips of {X.shape[1]} samples ({'real' if args.data else 'synthetic'}), "
          f"best of {args.repeats} alternating runs")
    print(f"{'transform':42s} {'audiomentations':>16s} {'sklkws':>12s} {'ratio':>8s}  target")
    failed = []
    for name, mine, ref, target in pairs():
        mine(X[:16]), ref(X[:16])  # warm imports, caches, FFT plans
        t_ours, t_ref = [], []
        for _ in range(args.repeats):
            t_ref.append(timed(ref, X)[0])
            dt, out = timed(mine, X)
            t_ours.append(dt)
            assert out.dtype == np.float32 and out.shape == X.shape and np.isfinite(out).all()
        ratio = min(t_ref) / min(t_ours)
        ok = ratio >= target
        failed += [] if ok else [name]
        print(f"{name:42s} {len(X) / min(t_ref):10.0f} clip/s {len(X) / min(t_ours):8.0f} clip/s"
              f" {ratio:7.1f}x  >= {target:g}x {'ok' if ok else 'MISSED'}")
    print("all targets met" if not failed else f"targets missed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
