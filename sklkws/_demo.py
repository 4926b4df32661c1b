"""``sklkws demo``: train, cross-validate, export and stream-test a keyword spotter in minutes.

Plain-language output for a newcomer. On the embedded default (no download) it
trains the custom-keyword network (:func:`sklkws.custom_words.small_spotter_pipeline`)
on synthetic eSpeak NG clips of the ten Speech Commands words; ``--data DIR`` runs
the same on a real Speech Commands folder.
"""

import time
from pathlib import Path

import numpy as np


def _say(*lines):
    for line in lines:
        print(line, flush=True)


def _logreg_pipeline():
    """The old linear baseline (MFCC + logistic regression), kept for a quick look (``--model logreg``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .features import MelFeatures
    from .preprocessing import Normalizer

    return make_pipeline(Normalizer(method="peak"), MelFeatures(kind="mfcc", n_mels=40, n_mfcc=13, hop_length=640,
                                                                flatten=True),
                         StandardScaler(), LogisticRegression(C=0.01, max_iter=300))


def _fit_fold(pipeline, X, y, train, test):
    """One cross-validation fold, run in a worker process: ``(fitted, predictions, seconds)``."""
    from sklearn.base import clone

    t0 = time.perf_counter()
    fitted = clone(pipeline).fit(X[train], y[train])
    return fitted, fitted.predict(X[test]), time.perf_counter() - t0


def _long_recording(spotter_words, X_kw, y_kw, rng_seed, n_keywords):
    """A synthetic long recording: keyword clips at known times between eSpeak sentences, over pink noise."""
    from .augment import coloured_noise
    from .custom_words import synthetic_sentences
    from .streaming import make_keyword_stream

    rng = np.random.default_rng(rng_seed)
    talk = synthetic_sentences(6, random_state=rng_seed)
    noise = coloured_noise(16000 * 30, "pink", rng)
    keep = np.isin(y_kw, spotter_words)
    n = int(min(n_keywords, keep.sum()))
    audio, truth = make_keyword_stream(X_kw[keep], y_kw[keep], n_keywords=n, gap=(1.5, 3.0), background=noise,
                                       background_db=-25.0, speech=talk, speech_db=-6.0, random_state=rng_seed)
    negatives = [s + 0.02 * coloured_noise(s.size, "pink", rng) for s in synthetic_sentences(
        10, random_state=rng_seed + 1)]
    return audio, truth, negatives


def run_demo(args):
    """The ``demo`` subcommand (see :func:`sklkws.cli.build_parser` for the flags)."""
    from joblib import Parallel, delayed
    from sklearn.metrics import accuracy_score, classification_report
    from sklearn.model_selection import GroupKFold

    from .plotting import plot_confusion_matrix

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.folds < 2:
        raise ValueError(f"--folds must be at least 2 (cross-validation), got {args.folds}.")
    jobs = args.folds if args.jobs is None else args.jobs
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1 (folds trained at once), got {args.jobs}.")
    _say("sklkws demo: a keyword spotter trained, tested on voices it never heard, exported and run on a "
         "long recording.", "")
    if args.data:
        from .datasets import load_speech_commands

        X, y, groups = load_speech_commands(args.data, n_jobs=-1)
        source = f"real recordings from the Speech Commands folder {args.data}"
        kind = "speakers"
    else:
        from .datasets import make_synthetic_commands

        X, y, groups = make_synthetic_commands(n_per_word=args.n_per_word, random_state=args.random_state)
        source = ("synthetic speech made here with eSpeak NG: many voices, accents, pitches and speeds, "
                  "in simulated rooms, cheap microphones and noise")
        kind = "synthetic voices"
    classes = np.unique(y)
    words = [c for c in classes if not c.startswith("_")]
    _say(f"1. Data: {len(X)} one-second clips of {source}.",
         f"   {len(classes)} classes: the words {', '.join(words)}, plus _unknown_ (other words) and "
         f"_silence_ (noise only); {len(np.unique(groups))} {kind}. ({time.perf_counter() - start:.0f} s)")

    if args.model == "logreg":
        pipeline, what = _logreg_pipeline(), "MFCC features + logistic regression (a linear baseline)"
    else:
        from .custom_words import small_spotter_pipeline

        # No SpecAugment here: it slows convergence, and in 20 epochs on synthetic clips
        # the network scores higher without it (docs/custom_words.md, "The demo").
        pipeline = small_spotter_pipeline(epochs=args.epochs, spec_augment=False, random_state=args.random_state)
        what = f"a small neural network (TC-ResNet14 on log-mel spectrograms, {args.epochs} epochs)"
    _say(f"2. Model: {what}.",
         f"   Trained {args.folds} times, each time holding out a third of the {kind} to test on "
         f"(speaker-grouped cross-validation): the score is for voices the model never heard"
         + (f"; {min(jobs, args.folds)} folds at a time, in separate processes." if jobs > 1 else "."))
    y_pred = np.empty_like(y)
    scores, fitted, test = [], None, None
    splits = list(GroupKFold(n_splits=args.folds).split(X, y, groups))
    # Folds train in worker processes: a small network on batches of 64 keeps TensorFlow
    # busy on little more than one core, so folds side by side finish sooner than one
    # after another (docs/custom_words.md, "The demo", has both timings).
    runs = Parallel(n_jobs=jobs, return_as="generator")(
        delayed(_fit_fold)(pipeline, X, y, train, test) for train, test in splits)
    for fold, ((train, test), (fitted, pred, seconds)) in enumerate(zip(splits, runs)):
        y_pred[test] = pred
        scores.append(accuracy_score(y[test], pred))
        _say(f"   fold {fold + 1}/{args.folds}: accuracy {scores[-1]:.3f} on {len(test)} clips of unseen {kind} "
             f"({seconds:.0f} s)")
    _say(f"   speaker-grouped {args.folds}-fold CV accuracy: {np.mean(scores):.3f} +- {np.std(scores):.3f} "
         f"(chance {1 / len(classes):.3f})")
    if args.verbose:
        _say(classification_report(y, y_pred, digits=3, zero_division=0))
    png = out / "confusion_matrix.png"
    plot_confusion_matrix(y, y_pred, normalize="true", path=png,
                          title=f"{args.model}: {args.folds}-fold speaker-grouped CV")
    _say(f"   confusion matrix (which word was taken for which): {png}")
    if args.save:
        import joblib

        joblib.dump(fitted, out / "model.joblib")
        _say(f"   the last fold's pipeline saved to {out / 'model.joblib'}")

    if args.model == "logreg":
        _say("", "(--model logreg has no on-device export; the default neural model does.)",
             f"total {time.perf_counter() - start:.0f} s")
        return 0
    # The last fold's model goes to the device: its held-out speakers make the long
    # recording, so the streaming test is on voices it never heard either.
    from .export import export_compact

    t0 = time.perf_counter()
    tflite = out / "kws.tflite"
    train = np.setdiff1d(np.arange(len(X)), test)
    calib = X[np.random.default_rng(0).choice(train, min(200, len(train)), replace=False)]
    report = export_compact(fitted, tflite, "int8", calib, validation_data=(X[test], y[test]), check=False,
                            verbose=False, n_runs=20)
    parity = (report.get("parity") or {}).get("accuracy_exported")
    _say("", f"3. Export: the last fold's model as one int8 TFLite file for a Raspberry Pi: {tflite} "
             f"({tflite.stat().st_size / 1000:.0f} KB).",
         f"   Budget check ({report.get('budget', 'pi')}): {'passed' if report['passed'] else 'FAILED'}"
         + ("" if report["passed"] else ": " + "; ".join(report["failures"]))
         + (f"; the int8 file's accuracy on the held-out clips {parity:.3f}" if parity is not None else "")
         + f" ({time.perf_counter() - t0:.0f} s)")

    from .device import KeywordSpotter
    from .plotting import plot_det, plot_detection_timeline
    from .streaming import evaluate_spotter

    t0 = time.perf_counter()
    audio, truth, negatives = _long_recording(words, X[test], y[test], args.random_state, args.n_stream)
    spotter = KeywordSpotter(str(tflite))
    events = spotter.detect(audio)
    seconds = len(audio) / 16000
    _say("", f"4. Listening: a {seconds:.0f} s recording made of sentences by unseen voices with {len(truth)} "
             "keywords said at known times, over noise.",
         f"   {'said at':>8}  {'word':<8} {'found':<22}")
    used, hits = set(), 0
    for t in truth:
        match = [i for i, e in enumerate(events)
                 if i not in used and t.start - 0.25 <= e.time <= t.end + 0.25]
        found = "-- missed"
        if match:
            used.add(match[0])
            e = events[match[0]]
            hits += e.keyword == t.keyword
            found = f"{e.keyword} at {e.time:.1f} s ({e.score:.2f})" + ("" if e.keyword == t.keyword else " WRONG")
        _say(f"   {t.start:7.1f} s  {t.keyword:<8} {found}")
    extra = [e for i, e in enumerate(events) if i not in used]
    _say(f"   found {hits} of {len(truth)} keywords; {len(extra)} detection(s) where no keyword was said"
         + (": " + ", ".join(f"{e.keyword} at {e.time:.1f} s" for e in extra[:5]) if extra else "") + ".")
    result = evaluate_spotter(spotter, (audio, truth), negatives)
    det, timeline = out / "det.png", out / "timeline.png"
    plot_det(result, det, title="demo: misses vs false alarms on synthetic speech")
    plot_detection_timeline(spotter, audio, truth=truth, duration=min(seconds, 30.0), path=timeline)
    at = int(np.argmin(np.abs(result.thresholds - spotter.threshold_)))
    _say(f"   {sum(map(len, negatives)) / 16000:.0f} s of other keyword-free sentences: "
         f"{int(result.n_false_alarms[at])} false alarm(s) at the threshold {spotter.threshold_:g}.",
         f"   pictures: {det} (misses against false alarms per hour), {timeline} (the first 30 s, "
         f"what the spotter heard and when it fired) ({time.perf_counter() - t0:.0f} s)")
    _say("", f"Done in {time.perf_counter() - start:.0f} s. Next: `sklkws listen {tflite} your.wav`, or train your "
             "own words: `sklkws train --words \"hey sheila\" --out kws.tflite` (docs/custom_words.md).")
    return 0
