"""Cost of the spotter per second of audio: whole windows against the streaming pair (and the step graph).

    python benchmarks/streaming_cost.py [--members 3] [--stateful] [--seconds 120] [--hop 0.1] [--threads 1]
        [--repeats 5]

Builds the recommended pipeline (``--members`` networks: the vote of three by default;
with ``--stateful`` the one network of :func:`sklkws.recipes.stateful_pipeline`, whose
file also carries the step graph that runs the network on each hop's new frames only)
with its real architecture and front ends, fits it for one epoch on a few noise
clips (the cost does not depend on the weights), exports it int8 with the streaming
pair (``export_compact(..., streaming=True)``), and times
``KeywordSpotter.window_posteriors`` over ``--seconds`` of noise with the whole-window
model (every hop recomputes the window's 101 frames) and with the streaming pair
(each stream frame once, the networks per window), interleaved, median of
``--repeats``, one interpreter thread (with ``--stateful``, the step graph as well).
Printed: the real-time factor of each, its ratio to whole windows, the largest
posterior difference from whole windows, the file sizes with and without the
pair, and each cost estimated on a Raspberry Pi 3B from MACs per second of audio
(``sklkws.device.estimate_device_latency``: an estimate, not a measurement). The
ratio is the number to quote: all run in the same process on the same machine.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from sklkws.device import CompactClassifier, estimate_device_latency, tflite_macs
from sklkws.export import export_compact
from sklkws.models import count_macs
from sklkws.recipes import recommended_pipeline, stateful_pipeline
from sklkws.streaming import KeywordSpotter


def _networks(estimator):
    """The Keras classifiers of a fitted pipeline or vote."""
    if hasattr(estimator, "steps"):
        return _networks(estimator.steps[-1][1])
    if hasattr(estimator, "estimators_"):
        return [clf for member in estimator.estimators_ for clf in _networks(member)]
    return [estimator]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--stateful", action="store_true",
                        help="the network of sklkws.recipes.stateful_pipeline, also run with its step graph")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--hop", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    # Noise clips for the twelve classes: one epoch on them sets every weight; the cost is the architecture's.
    labels = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "_silence_", "_unknown_"]
    X = (0.1 * rng.standard_normal((4 * len(labels), 16000))).astype(np.float32)
    y = np.repeat(labels, 4)
    if args.stateful:
        pipeline = stateful_pipeline(epochs=1, random_state=0).fit(X, y)
    else:
        pipeline = recommended_pipeline(n_members=args.members, epochs=1, random_state=0).fit(X, y)
    audio = (0.05 * rng.standard_normal(int(args.seconds * 16000))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        plain, paired = Path(tmp, "plain.tflite"), Path(tmp, "paired.tflite")
        export_compact(pipeline, plain, "int8", X, check=False, verbose=False)
        export_compact(pipeline, paired, "int8", X, check=False, verbose=False, streaming=True)
        compact = CompactClassifier(paired, num_threads=args.threads)
        spotters = {"whole windows": KeywordSpotter(compact, hop=args.hop, streaming=False),
                    "streaming pair": KeywordSpotter(compact, hop=args.hop, streaming="pair")}
        if args.stateful:
            spotters["step graph"] = KeywordSpotter(compact, hop=args.hop, streaming="stateful")
        times = {name: [] for name in spotters}
        posteriors = {}
        for _ in range(args.repeats):
            for name, spotter in spotters.items():
                start = time.perf_counter()
                posteriors[name] = spotter.window_posteriors(audio)
                times[name].append(time.perf_counter() - start)
        sizes = plain.stat().st_size, paired.stat().st_size
        whole_macs = tflite_macs(plain)
    rtf = {name: statistics.median(t) / args.seconds for name, t in times.items()}
    # Estimated on a Pi 3B (one thread) from MACs per second of audio: the whole-window model
    # counted on its graph x windows per second; the pair: the networks per window plus one
    # FFT and the mel projections per frame row (each stream frame once, and the window-edge rows).
    spec = compact.metadata_["streaming"]
    streaming = spotters["streaming pair"].streaming_
    windows_per_s = 16000 / spotters["whole windows"].hop_samples_
    n_fft, n_freq = spec["n_fft"], spec["n_fft"] // 2 + 1
    rows_per_s = 16000 / spec["hop_length"] + windows_per_s * len(streaming._edges)
    row_macs = n_fft * np.log2(n_fft) + n_freq * spec["n_bins"]
    networks = [clf.model_ for clf in _networks(pipeline)]
    pair_macs = sum(count_macs(m) for m in networks) * windows_per_s + row_macs * rows_per_s
    pi = {"whole windows": estimate_device_latency(whole_macs * windows_per_s, "pi3b") / 1000,
          "streaming pair": estimate_device_latency(pair_macs, "pi3b") / 1000}
    if args.stateful:  # per hop: one network step and the hop's frames
        pi["step graph"] = estimate_device_latency(spotters["step graph"].streaming_.macs_per_hop(), "pi3b") \
            / 1000 * windows_per_s
    name = "stateful_pipeline" if args.stateful else f"recommended pipeline, {args.members} member(s)"
    print(f"{name}, int8, hop {args.hop} s, {args.threads} thread(s), {args.seconds:.0f} s of audio, "
          f"median of {args.repeats}")
    for name, value in rtf.items():
        print(f"  {name:15s} real-time factor {value:.4f} here, est. Pi 3B {pi[name]:.3f}")
    for name in rtf:
        if name != "whole windows":
            print(f"  {name}: speed-up {rtf['whole windows'] / rtf[name]:.2f}x; largest posterior difference "
                  f"{np.abs(posteriors['whole windows'] - posteriors[name]).max():.4f}")
    print(f"  file {sizes[0] / 1e3:.1f} KB whole-window model, {sizes[1] / 1e3:.1f} KB with the streaming pair")


if __name__ == "__main__":
    main()
