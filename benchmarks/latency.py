"""The compact artifact against the Keras pipeline it comes from: latency ratio, size, MACs, parity.

    python benchmarks/latency.py [--data DIR] [--model FILE.joblib] [--arch tcresnet]
        [--arch-params JSON] [--epochs 15] [--members 3] [--distill [--student-params JSON]]
        [--n-runs 200] [--out benchmarks/output/latency]

Trains the recommended Speech Commands pipeline (:func:`sklkws.recipes.recommended_pipeline`:
peak normalisation, log-mel front end in each classifier, a soft vote of ``--members``
TC-ResNets as :data:`sklkws.recipes.RECOMMENDED_MEMBERS` says, fresh audio augmentation
every batch) on a speaker-grouped 80 %
of ``--data`` (synthetic eSpeak clips without it), or loads a fitted one with ``--model``.
``--members 1`` measures one network alone; ``--distill`` trains one more network on the
vote's probabilities (``--student-params '{"arch_params": {"width": 1, "stem2d": 0}}'`` for a smaller
one) and exports that student alone. Then
exports it as int8 (the recommended artifact), float16 and float32, plus two int8 variants that also quantise the front end (FFT
and DFT-matrix STFT), and prints for each: file size, MACs, single-thread latency
here (median of ``--n-runs``), estimated Raspberry Pi 3B / 4 latency, and accuracy on
the held-out speakers against the Keras pipeline's. The speed ratio is measured in
the same run: ``KerasResNetClassifier.predict`` on one clip against
``CompactClassifier.predict`` on the same clip (both median of ``--n-runs``).

Targets for the recommended int8 artifact: <= 250 KB, <= 2 ms per clip here,
estimated Pi 3B <= 20 ms (checked on the one-thread estimate; the four-thread one is
printed too). Results are written to ``OUT/latency.json``.

    python benchmarks/latency.py --budgets [--data DIR] [--epochs 15] [--members 3]

trains ``recommended_pipeline(distill=True, student_params=MICRO_STUDENT)`` once (every
network, the student too, for ``--epochs``) and
exports its two deployable models against the two named budgets: the vote it
distilled from (its ``teacher_``) against ``pi`` and the distilled single network
against ``micro`` (int8). For each: size, MACs, latency here, estimated Pi 3 / Pi 4,
peak memory, held-out accuracy and the difference to the vote's, and the pass /
fail of the budget; plus the joblib size of the fitted model before and after
:func:`sklkws.export.drop_training_state`. Written to ``OUT/budgets.json``.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import joblib
from sklearn.model_selection import GroupShuffleSplit

import numpy as np
from sklearn.pipeline import make_pipeline

from sklkws.export import CompactClassifier, drop_training_state, export_compact, saved_size
from sklkws.models import count_macs
from sklkws.recipes import MICRO_STUDENT, RECOMMENDED_ARCH, recommended_pipeline

TARGETS = {"size_bytes": 250_000, "latency_ms": 2.0, "pi3b_ms": 20.0}


def load_data(data, seed):
    if data:
        from sklkws.datasets import load_speech_commands

        X, y, groups = load_speech_commands(data, n_jobs=-1, progress=False)
    else:
        from sklkws.datasets import make_synthetic_commands

        X, y, groups = make_synthetic_commands(n_per_word=40, random_state=seed)
    train, test = next(GroupShuffleSplit(1, test_size=0.2, random_state=seed).split(X, y, groups))
    return X[train], y[train], X[test], y[test]


def recommended_model(args, background_noise=None):
    """The recommended pipeline, with this run's architecture and epochs."""
    return recommended_pipeline(n_members=args.members, distill=args.distill,
                                student_params=json.loads(args.student_params), arch=args.arch,
                                arch_params=json.loads(args.arch_params), epochs=args.epochs,
                                background_noise=background_noise, random_state=args.seed, verbose=2)


def median_ms(fn, n_runs, n_warmup=5):
    for _ in range(n_warmup):
        fn()
    times = []
    for _ in range(n_runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def budgets(args, X, y, X_test, y_test, out):
    """The vote against the ``pi`` budget and its distilled network against ``micro``, from one training."""
    start = time.perf_counter()
    noise = None
    if args.data:
        from sklkws.datasets import load_background_noise

        noise = load_background_noise(args.data)
    # --epochs for the student too: sizes, MACs and latencies do not depend on training length.
    model = recommended_pipeline(n_members=args.members, distill=True,
                                 student_params={**MICRO_STUDENT, "epochs": args.epochs}, epochs=args.epochs,
                                 background_noise=noise, random_state=args.seed, verbose=0)
    model.fit(X, y)
    train_s = time.perf_counter() - start
    joblib.dump(model, out / "distilled.joblib")
    before_bytes = (out / "distilled.joblib").stat().st_size
    distilled = model[-1]
    classes = distilled.classes_
    # The teacher was fitted on label codes: score it (and check its export) in codes.
    codes_test = np.searchsorted(classes, y_test)
    vote = make_pipeline(model[0], distilled.teacher_)
    student = make_pipeline(model[0], distilled.student_)
    vote_accuracy = float(np.mean(vote.predict(X_test) == codes_test))
    results = {"command": "budgets", "epochs": args.epochs, "members": args.members, "train_s": train_s,
               "n_train": len(X), "n_test": len(X_test), "vote_accuracy": vote_accuracy, "models": {}}
    for name, pipeline, budget in (("vote", vote, "pi"), ("distilled", student, "micro")):
        report = export_compact(pipeline, out / f"{name}_{budget}.tflite", "int8", X,
                                validation_data=(X_test, codes_test), n_runs=args.n_runs, check=False,
                                verbose=False, budget=budget)
        p, est = report["parity"], report["estimated_latency_ms"]
        row = {"budget": budget, "size_bytes": report["size_bytes"], "macs": report["macs"],
               "latency_ms": report["latency_ms"], "pi3b_ms": est["pi3b"], "pi4_ms": est["pi4"],
               "peak_memory_bytes": report["peak_memory_bytes"], "accuracy": p["accuracy_exported"],
               "keras_accuracy": p["accuracy_original"], "vs_vote_points": 100 * (p["accuracy_exported"] - vote_accuracy),
               "passed": report["passed"], "failures": report["failures"]}
        results["models"][name] = row
        memory = "n/a" if row["peak_memory_bytes"] is None else f"{row['peak_memory_bytes'] / 1e6:.2f} MB"
        print(f"{name:9s} budget {budget:5s} {row['size_bytes'] / 1000:7.1f} KB | {row['macs'] / 1e6:5.2f} M MACs | "
              f"here {row['latency_ms']:6.3f} ms | est. Pi 3 {row['pi3b_ms']:5.1f} ms, Pi 4 {row['pi4_ms']:5.1f} ms "
              f"(estimates) | peak memory {memory} | accuracy {100 * row['accuracy']:.2f}% "
              f"({row['vs_vote_points']:+.2f} pt vs the vote's Keras {100 * vote_accuracy:.2f}%) | "
              + ("PASSED" if row["passed"] else "FAILED: " + "; ".join(row["failures"])))
    dropped = drop_training_state(model)
    joblib.dump(model, out / "distilled_deploy.joblib")
    results["joblib_bytes"] = {"fitted": before_bytes, "after_drop_training_state": (out / "distilled_deploy.joblib").stat().st_size,
                               "dropped": dropped, "pickle_bytes_after": saved_size(model)}
    print(f"joblib of the fitted model: {before_bytes / 1e6:.1f} MB; after drop_training_state "
          f"({dropped['noise_steps']} noise steps, {dropped['recording_bytes'] / 1e6:.1f} MB of recordings, "
          f"{dropped['teachers']} teacher): {results['joblib_bytes']['after_drop_training_state'] / 1e6:.1f} MB "
          f"(trained in {train_s:.0f} s)")
    (out / "budgets.json").write_text(json.dumps(results, indent=2))
    return 0 if all(row["passed"] for row in results["models"].values()) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="Speech Commands folder; default: synthetic keyword clips")
    parser.add_argument("--model", help="a fitted model saved with joblib (skips training)")
    parser.add_argument("--arch", default=RECOMMENDED_ARCH[0])
    parser.add_argument("--arch-params", default=json.dumps(RECOMMENDED_ARCH[1]), help="JSON")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--members", type=int, default=3, help="networks in the vote (1: a single network)")
    parser.add_argument("--distill", action="store_true", help="distil the vote into one network and ship it")
    parser.add_argument("--student-params", default="{}", help="with --distill: the student's recipe parameters (JSON)")
    parser.add_argument("--n-runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/output/latency")
    parser.add_argument("--budgets", action="store_true",
                        help="train the distilled recipe once; export the vote (pi) and the student (micro)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y, X_test, y_test = load_data(args.data, args.seed)
    print(f"{len(X)} training clips, {len(X_test)} held-out clips of other speakers, {len(set(y))} classes")
    if args.budgets:
        return budgets(args, X, y, X_test, y_test, out)
    if args.model:
        model = joblib.load(args.model)
    else:
        start = time.perf_counter()
        noise = None
        if args.data:
            from sklkws.datasets import load_background_noise

            noise = load_background_noise(args.data)
        model = recommended_model(args, noise).fit(X, y)
        print(f"trained in {time.perf_counter() - start:.0f} s")
        joblib.dump(model, out / "model.joblib")
    keras_accuracy = model.score(X_test, y_test)
    network = model[-1] if hasattr(model, "steps") else model
    network = getattr(network, "student_", network)  # a distilled model ships its student
    networks = getattr(network, "estimators_", [network])  # a vote ships all its members
    network_macs = sum(count_macs(net.model_) for net in networks) if hasattr(networks[0], "model_") else None
    print(f"Keras pipeline: held-out accuracy {100 * keras_accuracy:.2f}%, network MACs {network_macs:,}")

    clip = X_test[:1]
    keras_ms = median_ms(lambda: model.predict(clip), args.n_runs)
    variants = {  # name: (file stem, export parameters)
        "int8 (recommended)": ("int8", dict(quantize="int8")),
        "float16": ("float16", dict(quantize="float16")),
        "float32": ("float32", dict(quantize=None)),
        "int8 + int8 front end (FFT)": ("int8_frontend_fft", dict(quantize="int8", quantize_frontend=True)),
        "int8 + int8 front end (DFT matmul)": ("int8_frontend_matmul",
                                               dict(quantize="int8", quantize_frontend=True, stft="matmul")),
    }
    results = {"keras_accuracy": keras_accuracy, "keras_predict_ms": keras_ms, "network_macs": network_macs,
               "n_train": len(X), "n_test": len(X_test), "variants": {}}
    for name, (stem, params) in variants.items():
        path = out / f"{stem}.tflite"
        report = export_compact(model, path, representative_data=X, validation_data=(X_test, y_test),
                                n_runs=args.n_runs, check=False, verbose=False, **params)
        compact = CompactClassifier(path)
        compact_ms = median_ms(lambda: compact.predict(clip), args.n_runs)
        parity = report["parity"]
        row = {
            "size_bytes": report["size_bytes"], "macs": report["macs"], "latency_ms": report["latency_ms"],
            "predict_ms": compact_ms, "speedup_vs_keras": keras_ms / compact_ms,
            "pi3b_ms": report["estimated_latency_ms"]["pi3b"], "pi4_ms": report["estimated_latency_ms"]["pi4"],
            "pi3b_4threads_ms": report["estimated_latency_ms"]["pi3b_4threads"],
            "accuracy": parity["accuracy_exported"], "accuracy_change_points": parity["accuracy_change_points"],
            "agreement": parity["agreement"], "checks_passed": report["passed"], "failures": report["failures"],
        }
        results["variants"][name] = row
        print(f"{name:36s} {row['size_bytes'] / 1000:7.1f} KB | {row['macs'] / 1e6:5.2f} M MACs | "
              f"invoke {row['latency_ms']:6.3f} ms | predict {compact_ms:6.3f} ms vs Keras {keras_ms:6.2f} ms "
              f"({row['speedup_vs_keras']:5.1f}x) | est. Pi 3B {row['pi3b_ms']:5.1f} ms (4 threads "
              f"{row['pi3b_4threads_ms']:4.1f}), Pi 4 {row['pi4_ms']:5.1f} ms "
              f"(estimates) | accuracy {100 * row['accuracy']:.2f}% ({row['accuracy_change_points']:+.2f} pt, "
              f"{100 * row['agreement']:.1f}% same)")
    best = results["variants"]["int8 (recommended)"]
    verdict = {
        "size_bytes": best["size_bytes"] <= TARGETS["size_bytes"],
        "latency_ms": best["latency_ms"] <= TARGETS["latency_ms"],
        "pi3b_ms": best["pi3b_ms"] <= TARGETS["pi3b_ms"],
    }
    results["targets"], results["targets_met"] = TARGETS, verdict
    print("targets for the int8 artifact: " + ", ".join(
        f"{key} {best[key]:.4g} <= {TARGETS[key]:g}: {'ok' if ok else 'MISSED'}" for key, ok in verdict.items()))
    (out / "latency.json").write_text(json.dumps(results, indent=2))
    return 0 if all(verdict.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
