"""Command line: ``sklkws demo | export | listen`` (also ``python -m sklkws``)."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _demo_pipeline(model, random_state, epochs=20, members=1):
    """The demo's pipeline: the front end, then a small CNN or a linear model."""
    from sklearn.pipeline import make_pipeline

    from sklkws.features import MelFeatures
    from sklkws.preprocessing import Normalizer

    if model == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            Normalizer(method="peak"),
            MelFeatures(kind="mfcc", n_mfcc=13, hop_length=640, flatten=True),
            StandardScaler(),
            LogisticRegression(C=0.01, max_iter=300),
        )
    from sklkws.recipes import recommended_pipeline

    return recommended_pipeline(n_members=members, epochs=epochs, bn_momentum=0.9, random_state=random_state)


def demo(args):
    """Train and cross-validate a small pipeline; write a confusion-matrix PNG."""
    from sklearn.metrics import accuracy_score, classification_report
    from sklearn.model_selection import GroupKFold

    from sklkws.plotting import plot_confusion_matrix

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.data:
        from sklkws.datasets import load_speech_commands

        X, y, groups = load_speech_commands(args.data, n_jobs=-1)
        source = f"Speech Commands folder {args.data}"
    else:
        from sklkws.datasets import make_synthetic_commands

        X, y, groups = make_synthetic_commands(n_per_word=args.n_per_word, random_state=args.random_state)
        source = "synthetic eSpeak NG keyword clips (embedded default)"
    classes = np.unique(y)
    print(f"data: {source}: {len(X)} clips, {len(classes)} classes, {len(np.unique(groups))} speakers "
          f"({time.perf_counter() - start:.1f} s)")

    from sklearn.base import clone

    pipeline = _demo_pipeline(args.model, args.random_state, args.epochs, args.members)
    y_pred = np.empty_like(y)
    fold_scores = []
    for fold, (train, test) in enumerate(GroupKFold(n_splits=args.folds).split(X, y, groups)):
        t0 = time.perf_counter()
        fitted = clone(pipeline).fit(X[train], y[train])
        y_pred[test] = fitted.predict(X[test])
        fold_scores.append(accuracy_score(y[test], y_pred[test]))
        print(f"fold {fold + 1}/{args.folds}: accuracy {fold_scores[-1]:.3f} on {len(test)} clips of unseen "
              f"speakers ({time.perf_counter() - t0:.0f} s)")
    print(f"speaker-grouped {args.folds}-fold CV accuracy: {np.mean(fold_scores):.3f} +- {np.std(fold_scores):.3f} "
          f"(chance {1 / len(classes):.3f})")
    print(classification_report(y, y_pred, digits=3, zero_division=0))
    png = out / "confusion_matrix.png"
    plot_confusion_matrix(y, y_pred, normalize="true", path=png,
                          title=f"{args.model}: {args.folds}-fold speaker-grouped CV")
    print(f"confusion matrix written to {png}")
    if args.save:
        import joblib

        model_path = out / "model.joblib"
        joblib.dump(clone(pipeline).fit(X, y), model_path)
        print(f"pipeline fitted on all clips saved to {model_path}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


def export(args):
    """Export a joblib-saved pipeline to one checked TFLite file."""
    from sklkws.export import export_main

    return export_main(args.model, args.out, quantize=args.quantize, data=args.data, test=args.test,
                       n_clips=args.n_clips, budget=args.budget)


def listen(args):
    """Print the keywords a model finds in a recording (or the microphone); or calibrate its threshold."""
    params = dict(hop=args.hop, smoothing=args.smoothing, threshold=args.threshold, refractory=args.refractory)
    if args.calibrate:
        from sklkws.streaming import calibrate_main

        params.pop("threshold")
        calibrate_main(args.model, args.calibrate, target_fa_per_hour=args.target_fa, num_threads=args.threads,
                       **params)
        return 0
    if args.plot:
        from sklkws.streaming import timeline_main

        if args.mic or args.audio is None:
            raise ValueError("--plot draws the timeline of an audio file; give FILE (not --mic).")
        timeline_main(args.model, args.audio, args.plot, num_threads=args.threads, **params)
        return 0
    from sklkws.device._spotter import listen_main  # device side: no scikit-learn import on a Pi

    listen_main(args.model, args.audio, mic=args.mic, hop=args.hop, smoothing=args.smoothing,
                threshold=args.threshold, refractory=args.refractory, num_threads=args.threads,
                duration=args.duration,
                device=int(args.device) if args.device and args.device.isdigit() else args.device)
    return 0


def build_parser():
    from sklkws import __version__

    parser = argparse.ArgumentParser(prog="sklkws", description="Keyword spotting with scikit-learn pipelines.")
    parser.add_argument("--version", action="version", version=f"sklkws {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train and cross-validate a small pipeline, write a confusion matrix")
    p.add_argument("--data", help="a Speech Commands folder; default: synthetic keyword clips made here")
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--model", choices=("logreg", "cnn"), default="logreg",
                   help="logreg: MFCC + logistic regression (minutes); cnn: the recommended TC-ResNet, which "
                        "needs thousands of clips (e.g. --data) to beat logreg")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--n-per-word", type=int, default=40, help="synthetic clips per word")
    p.add_argument("--epochs", type=int, default=20, help="training epochs of the cnn model")
    p.add_argument("--members", type=int, default=1,
                   help="networks in the cnn model's soft vote (the recipe's default, 3, trains 3x longer)")
    p.add_argument("--save", action="store_true", help="also fit on all clips and save model.joblib")
    p.add_argument("--random-state", type=int, default=0)
    p.set_defaults(func=demo)

    p = sub.add_parser("export", help="write a fitted joblib pipeline as one TFLite file and check the limits")
    p.add_argument("model", help="a fitted pipeline saved with joblib (runs pickled code: trusted files only)")
    p.add_argument("--out", required=True, help="the .tflite file to write (description in <out>.json)")
    p.add_argument("--quantize", choices=("int8", "float16", "none"), default="int8")
    p.add_argument("--data", help="clips for int8 calibration (and the parity check without --test): a Speech "
                                  "Commands folder, a .npz with X and y, or a .npy")
    p.add_argument("--test", help="labelled clips for the parity check (e.g. the test folder); never calibrated on")
    p.add_argument("--n-clips", type=int, default=500, help="parity-check clips drawn (default 500)")
    p.add_argument("--budget", choices=("pi", "micro"), default="pi",
                   help="pi: < 5,000,000 bytes, < 200 ms est. Pi 3; micro: <= 250,000 bytes int8, <= 20 ms")
    p.set_defaults(func=export)

    p = sub.add_parser("listen", help="spot keywords in a long recording")
    p.add_argument("model", help="a .tflite file from `sklkws export` (safe) or a joblib pipeline (trusted only)")
    p.add_argument("audio", nargs="?", help="the recording, e.g. FILE.wav (or --mic)")
    p.add_argument("--mic", action="store_true", help="listen to the microphone (needs sounddevice + PortAudio)")
    p.add_argument("--duration", type=float, help="with --mic: seconds to listen (default: until Ctrl-C)")
    p.add_argument("--device", help="with --mic: input device number or name (python -m sounddevice lists them)")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads of a .tflite model")
    p.add_argument("--hop", type=float, help="seconds between 1 s windows (default: the model's operating point, "
                                             "else 0.1)")
    p.add_argument("--smoothing", type=float, help="posterior smoothing window in seconds (default: stored, else 0.3)")
    p.add_argument("--threshold", type=float, help="default: the model's calibrated threshold, else 0.5")
    p.add_argument("--refractory", type=float, help="seconds before the same keyword fires again (default 1.0)")
    p.add_argument("--plot", metavar="PNG", help="also draw the detection timeline of FILE (spectrogram, posteriors)")
    p.add_argument("--calibrate", metavar="NEGATIVES_DIR",
                   help="instead: choose the threshold meeting --target-fa on this keyword-free audio and store it "
                        "in the .tflite model (listen then uses it by default)")
    p.add_argument("--target-fa", type=float, default=1.0, help="false alarms per hour for --calibrate (default 1)")
    p.set_defaults(func=listen)
    return parser


def main(argv=None):
    """Run one subcommand; a user error (bad input, missing file or package) ends in one line, status 2.

    ``SKLKWS_DEBUG=1`` shows the traceback instead.
    """
    import os

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, ImportError, OSError) as error:  # the project's SklkwsError is a ValueError
        if os.environ.get("SKLKWS_DEBUG"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"sklkws {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
