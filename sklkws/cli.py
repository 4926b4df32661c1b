"""Command line: ``sklkws demo | train | export | listen | tune`` (also ``python -m sklkws``).

The entry points that are more than a call into the library live here too:
:func:`export_main` (``sklkws export``) and :func:`listen_main` (``sklkws listen``, which
imports the device side only, so it runs on a Pi without the training stack). Nothing
is imported at module level beyond the standard library.
"""

import argparse
import sys
from pathlib import Path


def export_main(model, out, *, quantize="int8", data=None, test=None, n_clips=500, check=True, stft="fft",
                budget="pi", verbose=True, streaming=False):
    """Entry point of ``sklkws export MODEL --out FILE.tflite``: export a joblib-saved pipeline.

    Parameters
    ----------
    model : str or path-like
        A fitted pipeline saved with joblib (loading it runs pickled code: only
        your own or trusted files).
    out : str or path-like
        The .tflite file to write (its description goes to ``<out>.json``).
    quantize : {"int8", "float16", "none"}, default="int8"
    data, test, n_clips
        The calibration and check clips, read by :func:`sklkws.export.read_export_clips`
        (a Speech Commands folder, ``.npz`` or ``.npy``); int8 needs ``data`` or ``test``.
    check : bool, default=True
    stft : {"fft", "matmul"}, default="fft"
    budget : {"pi", "micro"}, default="pi"
    verbose : bool, default=True
    streaming : bool, default=False
        Embed the streaming pair, and the step graph of a network that streams with
        state (see :func:`sklkws.export.export_compact`).

    Returns
    -------
    status : int
        0 when every check passed, 1 when a limit is broken (the file is written).

    Raises
    ------
    SklkwsError
        For a missing model file, int8 without ``data``, or a model that cannot be exported.
    """
    import joblib

    from sklkws._errors import SklkwsError
    from sklkws.export import CompactLimitError, export_compact, read_export_clips

    quantize = None if quantize in (None, "none", "float32") else quantize
    if not Path(model).is_file():
        raise SklkwsError(f"{model}: no such model file; save a fitted pipeline with joblib.dump (or "
                          "`sklkws demo --model cnn --save`) first.")
    if quantize == "int8" and data is None and test is None:
        raise SklkwsError("int8 export needs calibration clips: add --data (a Speech Commands folder, .npz or "
                          ".npy), or export with --quantize float16 / none.")
    estimator = joblib.load(model)
    X_cal, X, y = read_export_clips(data, test, n_clips)
    validation = None if X is None else ((X, y) if y is not None else (X,))
    try:
        export_compact(estimator, out, quantize, X_cal, validation_data=validation, stft=stft, check=check,
                       verbose=verbose, budget=budget, streaming=streaming)
    except CompactLimitError as error:
        if verbose:
            print(f"error: {error}")
        return 1
    except ValueError as error:
        if "Cannot export" in str(error):
            raise SklkwsError(f"{model}: {error} The logistic-regression demo model (`sklkws demo --save`) has no "
                              "on-device form: save a network with `sklkws demo --model cnn --save`.") from None
        raise
    return 0


def listen_main(model, audio=None, *, mic=False, hop=None, smoothing=None, threshold=None, refractory=None,
                keywords=None, num_threads=1, duration=None, device=None, sounddevice=None, verbose=True):
    """Entry point of ``sklkws listen MODEL FILE.wav`` and ``sklkws listen MODEL --mic``.

    Parameters
    ----------
    model : str or path-like
        A ``.tflite`` file from ``sklkws export`` (loaded safely: no pickled code),
        or a joblib-saved pipeline (only your own or trusted files).
    audio : str or path-like, default=None
        The recording (PCM WAV, or any format soundfile reads), at the model's
        sample rate. Not with ``mic``.
    mic : bool, default=False
        Listen to the microphone instead, printing events as they happen.
    hop, smoothing, threshold, refractory, keywords
        See :class:`~sklkws.device.KeywordSpotter` (None: the model's stored operating point).
    num_threads : int, default=1
        Interpreter threads for a ``.tflite`` model.
    duration : float, default=None
        With ``mic``: seconds to listen (None: until Ctrl-C).
    device : int or str, default=None
        With ``mic``: the input device.
    sounddevice : module, default=None
        With ``mic``: a stand-in for the sounddevice module (tests).
    verbose : bool, default=True
        Print one line per event: time, keyword, score.

    Returns
    -------
    events : list of Event
    """
    if (audio is None) == (not mic):
        raise ValueError("Give either an audio file or --mic (not both).")
    from sklkws.device import KeywordSpotter, load_model  # the device side only: this runs on a Pi
    from sklkws.device._spotter import microphone_chunks

    classifier = load_model(model, num_threads=num_threads)
    spotter = KeywordSpotter(classifier, keywords=keywords, hop=hop, smoothing=smoothing, threshold=threshold,
                             refractory=refractory)

    def show(event):
        if verbose:
            print(f"{event.time:9.2f} s  {event.keyword:<12s} {event.score:.3f}", flush=True)

    if not mic:
        events = spotter.detect(audio)
        for event in events:
            show(event)
        if verbose:
            print(f"{len(events)} keyword(s) in {audio}")
        return events
    spotter.reset()
    if verbose:
        print(f"Listening (threshold {spotter.threshold_:g}); Ctrl-C stops.", flush=True)
    events = []
    chunks = microphone_chunks(spotter.sample_rate_, blocksize=spotter.hop_samples_, duration=duration,
                               device=device, sounddevice=sounddevice)
    try:
        for event in spotter.stream(chunks):
            show(event)
            events.append(event)
    except KeyboardInterrupt:
        events += spotter.flush()
    if verbose:
        print(f"{len(events)} keyword(s) heard")
    return events


def demo(args):
    """Train, cross-validate, export and stream-test a keyword spotter (``sklkws/_demo.py``)."""
    from sklkws._demo import run_demo

    return run_demo(args)


def train(args):
    """Train a spotter for your own words and export it (``sklkws/custom_words.py``)."""
    from sklkws.custom_words import train_main

    return train_main(args)


def export(args):
    """Export a joblib-saved pipeline to one checked TFLite file."""
    return export_main(args.model, args.out, quantize=args.quantize, data=args.data, test=args.test,
                       n_clips=args.n_clips, budget=args.budget, streaming=args.streaming)


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
    listen_main(args.model, args.audio, mic=args.mic, hop=args.hop, smoothing=args.smoothing,
                threshold=args.threshold, refractory=args.refractory, num_threads=args.threads,
                duration=args.duration,
                device=int(args.device) if args.device and args.device.isdigit() else args.device)
    return 0


def tune(args):
    """One worker of a shared Optuna study over the recommended network's learning rate and decay."""
    from sklkws.tuning._worker import tune_main

    tune_main(args.study, args.data, args.n_trials, study_name=args.study_name, epochs=args.epochs, cv=args.cv,
              memory_budget=None if args.memory_budget is None else int(args.memory_budget * 2**30),
              heartbeat_interval=args.heartbeat, random_state=args.random_state)
    return 0


def build_parser():
    from sklkws import __version__

    parser = argparse.ArgumentParser(prog="sklkws", description="Keyword spotting with scikit-learn pipelines.")
    parser.add_argument("--version", action="version", version=f"sklkws {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train a keyword spotter on synthetic speech, test it on unseen voices, "
                                     "export it and run it over a long recording")
    p.add_argument("--data", help="a Speech Commands folder; default: synthetic keyword clips made here")
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--model", choices=("cnn", "logreg"), default="cnn",
                   help="cnn: a TC-ResNet14 on log-mels, exported int8 (default); logreg: MFCC + logistic "
                        "regression, a linear baseline without export")
    p.add_argument("--folds", type=int, default=3, help="speaker-grouped CV folds (default 3)")
    p.add_argument("--n-per-word", type=int, default=400, help="synthetic clips per word (default 400)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs of the cnn model (default 20)")
    p.add_argument("--jobs", type=int, default=None,
                   help="folds trained at once, each in its own process (default: all of them; 1: one after another)")
    p.add_argument("--n-stream", type=int, default=12, help="keywords said in the long recording (default 12)")
    p.add_argument("--save", action="store_true", help="also save the last fold's pipeline as model.joblib")
    p.add_argument("--verbose", action="store_true", help="also print the per-class report")
    p.add_argument("--random-state", type=int, default=0)
    p.set_defaults(func=demo)

    p = sub.add_parser("train", help="train a spotter for your own words (synthetic speech, optional recordings) "
                                      "and export it as one .tflite file")
    p.add_argument("--words", nargs="+", required=True, help='the keywords, e.g. --words "hey sheila" "lights on"')
    p.add_argument("--out", required=True, help="the .tflite file to write (description in <out>.json); "
                                                 "with --frontend embedding, a .joblib file")
    p.add_argument("--frontend", choices=("scratch", "embedding"), default="scratch",
                   help="scratch: a TC-ResNet trained here, one .tflite; embedding: the pretrained speech_embedding "
                        "and a small head, far more accurate from synthetic speech (device: onnxruntime)")
    p.add_argument("--head", choices=("mlp", "linear"), default="mlp",
                   help="with --frontend embedding: one hidden ReLU layer (default) or a logistic regression")
    p.add_argument("--recordings", help="optional folder with one sub-folder of real clips per word "
                                        "(hey_sheila/*.wav), 16 kHz")
    p.add_argument("--recording-copies", type=int, default=None,
                   help="augmented copies of each recording (speed, noise, shift, gain); default 30 with "
                        "--frontend embedding, 0 with scratch")
    p.add_argument("--speech", help="optional folder of real keyword-free speech (cut into _unknown_ clips)")
    p.add_argument("--noise", help="optional Speech Commands folder whose _background_noise_ recordings "
                                   "are mixed into the synthetic clips")
    p.add_argument("--n-per-word", type=int, default=400, help="synthetic clips per word (default 400)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--budget", choices=("pi", "micro"), default="pi", help="limits checked at export")
    p.add_argument("--random-state", type=int, default=0)
    p.set_defaults(func=train)

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
    p.add_argument("--streaming", action="store_true",
                   help="also embed the streaming pair: `listen` then computes each frame's front end once per "
                        "stream, not once per window (the file grows by about the networks' size); a network that "
                        "streams with state (recipes.stateful_pipeline) also gets its step graph, which runs the "
                        "network on each hop's new frames only")
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

    p = sub.add_parser("tune", help="run one worker of a shared Optuna study (start the same command on each machine)")
    p.add_argument("--study", required=True, help="study database URL: postgresql://user:pw@host/db for several "
                                                  "machines, sqlite:///study.db for one")
    p.add_argument("--data", required=True, help="a Speech Commands folder (the same clips on every machine)")
    p.add_argument("--n-trials", type=int, required=True, help="finished trials the study should hold in all")
    p.add_argument("--study-name", default="sklkws", help="name of the study in the database (default: sklkws)")
    p.add_argument("--epochs", type=int, default=10, help="epochs of each trial's network (default 10)")
    p.add_argument("--cv", type=int, default=3, help="speaker-grouped folds per trial (default 3)")
    p.add_argument("--memory-budget", type=float, help="GiB this worker may use (default: available memory)")
    p.add_argument("--heartbeat", type=int, default=60,
                   help="seconds between heartbeats; a killed worker's trial is re-queued after two (default 60)")
    p.add_argument("--random-state", type=int)
    p.set_defaults(func=tune)
    return parser


def main(argv=None):
    """Run one subcommand; a user error (bad input, missing file or package) ends in one line, status 2.

    ``SKLKWS_DEBUG=1`` shows the traceback instead.
    """
    import os

    args = build_parser().parse_args(argv)
    # TensorFlow's C++ start-up lines (oneDNN, "no CUDA drivers") mean nothing to a user of
    # the commands; a value the user set stays.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The exporter checks its file with TensorFlow's own interpreter on purpose (LiteRT's
    # library beside TensorFlow's crashes training, see sklkws/device/_compact.py); its
    # deprecation notice is for TensorFlow's users, not ours.
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated", category=UserWarning)
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
