"""Streaming benchmark: misses at a fixed false-alarm rate, with and without hard-negative training.

    python benchmarks/streaming.py --data DIR --negatives DIR [--model FILE] [--frontend recipe|embedding|stateful]
        [--epochs 40]
        [--members 1]
        [--arch-params JSON] [--hard-negatives none,with] [--hard-fraction 0.3] [--test-fraction 0.2]
        [--background-db -20] [--quantize int8] [--target-fa 1.0] [--out DIR] [--save] [--random-state 0]

Speakers of ``--data`` (a Speech Commands folder) are split (``GroupShuffleSplit``):
``--test-fraction`` of them are held out and their command clips become one positive
stream (clips between 1-2 s gaps of the folder's ``_background_noise_`` at
``--background-db`` relative to the clips). The negative folder's speakers (file
names ``<speaker>_...``) are split in two halves: the first half is the pool of hard
negatives for training and for calibration, the other half is where false alarms are
counted, so no model is judged on speech it saw.

For each variant in ``--hard-negatives`` (``none``: the recipe as it is; ``with``: the
same recipe and seed with ``--hard-fraction`` x n_train windows of the pool's speech
added as ``_unknown_``) the recommended pipeline (``--members`` networks,
``--epochs``; with ``--frontend embedding`` the speech-embedding pipeline instead; with
``--frontend stateful`` :func:`sklkws.recipes.stateful_pipeline`, exported with its step
graph, which the spotter then runs hop by hop) is trained on the other speakers, its
clip accuracy on the held-out speakers' clips printed, converted to the compact model
(``--quantize``), and run as a :class:`~sklkws.streaming.KeywordSpotter` with its
defaults (hop 0.1 s, smoothing 0.3 s, refractory 1 s). ``--model FILE`` skips
training and evaluates a saved joblib pipeline or ``.tflite`` instead (the positive
streams must then come from speakers it was not trained on).

Printed per variant: the DET table, FRR at 0.5 / 1 / 2 / 5 FA/h, the real-time factor
of the model pass (one thread) and its estimate on a Pi 3B (MACs counted on the
compact model x windows per second, or on the step graph and a hop's frames x hops per
second, / :data:`sklkws.device.DEVICE_MODELS` ``pi3b``), the
operating point calibrated on the pool half for
``--target-fa`` and its FA/h and FRR on the judged half (the "with" model trained on the
pool's speech, so its calibration there is optimistic). Written to ``--out``:
``det.png`` (all variants), ``timeline_<variant>.png`` (the first 30 s of the
positive stream), ``results.json`` and, with ``--save``, ``pipeline_<variant>.joblib`` (the trained
pipeline without its noise recordings, written as soon as it is trained) and
``model_<variant>.joblib`` (its compact model); ``--model`` takes either.
"""

import argparse
import json
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from sklkws.augment import HardNegatives
from sklkws.datasets import load_background_noise, load_speech_commands
from sklkws.export import drop_training_state
from sklkws.plotting import plot_det, plot_detection_timeline
from sklkws.streaming import (KeywordSpotter, calibrate_spotter, evaluate_spotter, load_negative_audio,
                              make_keyword_stream)

AUDIO = (".wav", ".flac")
REPORTED = (0.5, 0.7, 0.8, 0.9, 0.95)


def negative_halves(folder, random_state):
    """(pool, judged): lists of recordings of two disjoint halves of the folder's speakers."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO)
    if not files:
        raise SystemExit(f"{folder} holds no audio files.")
    speakers = np.array([p.stem.split("_")[0] for p in files])
    names = np.unique(speakers)
    rng = np.random.default_rng(random_state)
    pool_speakers = set(rng.permutation(names)[: len(names) // 2])
    pool = [load_negative_audio(p)[0] for p, s in zip(files, speakers) if s in pool_speakers]
    judged = [load_negative_audio(p)[0] for p, s in zip(files, speakers) if s not in pool_speakers]
    return pool, judged, len(names)


def train(args, X, y, noise, pool, hard):
    from sklkws.custom_words import embedding_spotter_pipeline
    from sklkws.recipes import recommended_pipeline, stateful_pipeline

    if hard:
        sampler = HardNegatives(pool, n_windows=float(args.hard_fraction), random_state=args.random_state)
        X, y = sampler.fit_resample(X, y)
    if args.frontend == "embedding":
        start = time.perf_counter()
        pipe = embedding_spotter_pipeline().fit(X, y)
        return pipe, (time.perf_counter() - start) / 60, len(X)
    common = {"epochs": args.epochs, "background_noise": noise, "arch_params": json.loads(args.arch_params),
              "random_state": args.random_state, **json.loads(args.classifier_params)}
    if args.frontend == "stateful":
        pipe = stateful_pipeline(**common)
    else:
        pipe = recommended_pipeline(n_members=args.members, **common)
    start = time.perf_counter()
    pipe.fit(X, y)
    return pipe, (time.perf_counter() - start) / 60, len(X)


def compact(args, model, X_calibration):
    if str(model).endswith(".tflite"):
        from sklkws.device import CompactClassifier

        return CompactClassifier(model)
    if args.quantize == "pipeline" or hasattr(model, "metadata_") or hasattr(model, "n_samples_"):
        return model  # kept as is, or already a device model
    if args.frontend == "embedding":
        from sklkws.export import to_embedding_classifier

        return to_embedding_classifier(model)
    from sklkws.export import to_compact

    return to_compact(model, X_calibration, quantize=None if args.quantize == "none" else args.quantize,
                      streaming=args.frontend == "stateful")


def pi3_rtf(spotter):
    """Estimated Pi 3B real-time factor: MACs per hop x hops per second / the device model's MAC/s."""
    content = getattr(spotter.model_, "_content", None)
    if content is None:
        return None
    from sklkws.device import StatefulModel, estimate_device_latency, tflite_macs

    if isinstance(spotter.streaming_, StatefulModel):  # each hop: its frames' front end and one network step
        return estimate_device_latency(spotter.streaming_.macs_per_hop(), "pi3b") / 1000.0 / spotter.hop_
    return estimate_device_latency(tflite_macs(content), "pi3b") / 1000.0 / spotter.hop_


def report(name, result, point, judged_point):
    print(f"\n== {name}")
    print(result.table(REPORTED))
    print(result.summary())
    if point is None:
        print("calibration: no threshold met the target on the pool half")
    else:
        print(f"calibrated on the pool half: threshold {point['threshold']:g} ({point['fa_per_hour']:.2f} FA/h there)"
              f"; on the judged half: FRR {100 * judged_point[0]:.1f} %, {judged_point[1]:.2f} FA/h")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--negatives", required=True)
    parser.add_argument("--model", help="a saved joblib pipeline or .tflite to evaluate instead of training")
    parser.add_argument("--frontend", choices=("recipe", "embedding", "stateful"), default="recipe",
                        help="recipe: the recommended pipeline; embedding: speech_embedding + its default MLP head "
                             "(sklkws.custom_words.embedding_spotter_pipeline), run by onnxruntime; stateful: the "
                             "recipe's training with a network that streams with state (arch tcresnet_stream on "
                             "per-frame log-mels), exported with its step graph")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--members", type=int, default=1)
    parser.add_argument("--arch-params", default="{}")
    parser.add_argument("--classifier-params", default="{}")
    parser.add_argument("--hard-negatives", default="none,with")
    parser.add_argument("--hard-fraction", type=float, default=0.3)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--background-db", type=float, default=-20.0)
    parser.add_argument("--quantize", choices=("int8", "float16", "none", "pipeline"), default="int8")
    parser.add_argument("--target-fa", type=float, default=1.0)
    parser.add_argument("--smoothing", type=float, default=None,
                        help="seconds of the spotter's posterior moving average (default: KeywordSpotter's, 0.3)")
    parser.add_argument("--out", default="streaming_output")
    parser.add_argument("--save", action="store_true",
                        help="write each trained pipeline to OUT/pipeline_<variant>.joblib and its compact model to "
                             "OUT/model_<variant>.joblib")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y, groups = load_speech_commands(args.data, random_state=args.random_state)
    noise = load_background_noise(args.data)
    split = GroupShuffleSplit(n_splits=1, test_size=args.test_fraction, random_state=args.random_state)
    train_rows, test_rows = next(split.split(X, y, groups))
    audio, truth = make_keyword_stream(X[test_rows], y[test_rows], background=list(noise.values()),
                                       background_db=args.background_db, random_state=args.random_state)
    pool, judged, n_speakers = negative_halves(args.negatives, args.random_state)
    hours = [sum(map(len, part)) / 16000 / 3600 for part in (pool, judged)]
    print(f"train: {len(train_rows)} clips; positive stream: {len(truth)} keywords of {len(set(groups[test_rows]))} "
          f"held-out speakers in {len(audio) / 16000 / 60:.1f} min; negatives: {n_speakers} speakers, pool half "
          f"{hours[0]:.3f} h, judged half {hours[1]:.3f} h", flush=True)

    variants = {"model": None} if args.model else {v: v == "with" for v in args.hard_negatives.split(",")}
    results, summary = [], {}
    for name, hard in variants.items():
        if args.model:
            model, minutes, n_train = args.model, 0.0, 0
            if not args.model.endswith(".tflite"):
                model = joblib.load(args.model)
        else:
            model, minutes, n_train = train(args, X[train_rows], y[train_rows], noise, pool, hard)
            accuracy = float(model.score(X[test_rows], y[test_rows]))
            print(f"{name}: trained on {n_train} clips in {minutes:.1f} min; clip accuracy on the held-out "
                  f"speakers' {len(test_rows)} clips {accuracy:.4f}", flush=True)
            if args.save:  # before the conversion, so that a failing export does not lose the training
                drop_training_state(model)
                joblib.dump(model, out / f"pipeline_{name}.joblib")
        spotter = KeywordSpotter(compact(args, model, X[train_rows][:: max(1, len(train_rows) // 200)]),
                                 smoothing=args.smoothing)
        if args.save and not args.model:
            joblib.dump(spotter.model, out / f"model_{name}.joblib")  # evaluate it again with --model
        result = evaluate_spotter(spotter, (audio, truth), judged)
        pi3 = pi3_rtf(spotter)
        print(f"{name}: RTF here {result.rtf:.4f} (one thread)"
              + ("" if pi3 is None else f"; estimated on a Pi 3B (1 thread, device model pi3b): {pi3:.3f}"))
        try:
            point = calibrate_spotter(spotter, pool, target_fa_per_hour=args.target_fa)
            i = int(np.argmin(np.abs(result.thresholds - point["threshold"])))
            judged_point = (float(result.frr[i]), float(result.fa_per_hour[i]))
        except ValueError:
            point, judged_point = None, None
        report(name, result, point, judged_point)
        P = spotter.window_posteriors(audio[: 30 * 16000])
        plot_detection_timeline(spotter, audio[: 30 * 16000], truth=[t for t in truth if t.end <= 30], posteriors=P,
                                path=out / f"timeline_{name}.png", title=f"{name}: first 30 s of the positive stream")
        results.append(result)
        summary[name] = {
            "train_clips": n_train, "train_minutes": round(minutes, 2), "rtf": result.rtf, "pi3b_rtf_estimate": pi3,
            "clip_accuracy": None if args.model else accuracy,
            "frr_at": {str(fa): None if np.isnan(v) else float(v)
                       for fa, v in zip((0.5, 1, 2, 5), result.frr_at([0.5, 1.0, 2.0, 5.0]))},
            "thresholds": result.thresholds.tolist(), "frr": result.frr.tolist(),
            "fa_per_hour": result.fa_per_hour.tolist(), "wrong": result.n_wrong.tolist(),
            "calibrated": point, "calibrated_on_judged": judged_point,
        }
    plot_det(results, path=out / "det.png", labels=list(variants))
    (out / "results.json").write_text(json.dumps({"args": vars(args), "keywords": len(truth),
                                                  "judged_hours": hours[1], "variants": summary}, indent=2))
    print(f"\nWrote {out / 'det.png'}, the timelines and {out / 'results.json'}")
    return summary


if __name__ == "__main__":
    main()
