"""Custom-word benchmark: does a spotter trained on synthetic speech recognise real people?

    python benchmarks/custom_words.py --data DIR [--folds 3] [--run-folds 1] [--epochs 30]
        [--n-per-word 120] [--shots 5,10,25] [--conditions synthetic,fewshot,all] [--out FILE.json]
        [--frontends scratch,embedding] [--head mlp] [--recording-copies 0] [--random-state 0]
        [--speech DIR] [--n-speech N] [--tta SECONDS]

``--data`` is a Speech Commands folder (12 classes). Its speakers are split with
``GroupKFold(--folds)``; for each of the first ``--run-folds`` folds the held-out
speakers' clips are the test set, and no real clip of theirs is ever trained on.
Each row is trained with each of ``--frontends``: ``scratch`` is
:func:`sklkws.custom_words.small_spotter_pipeline` (log-mels and a TC-ResNet trained from
scratch, ``--epochs``, ``--random-state``), ``embedding`` is
:func:`sklkws.custom_words.embedding_spotter_pipeline` (the pretrained speech_embedding
and ``--head``: one hidden ReLU layer or a logistic regression), so within a front end the rows differ only in their training clips:

1. ``synthetic``: synthetic clips only (:func:`~sklkws.datasets.make_synthetic_commands`,
   ``--n-per-word``, mixed with the folder's ``_background_noise_``), no real clip;
2. ``fewshot``: k real clips per class (``--shots``; drawn from the training speakers)
   with the synthetic clips, next to the same k real clips alone (from scratch);
3. ``all``: every real training clip with and without the synthetic clips.

With ``--recording-copies N`` the few-shot rows' real clips come with N augmented copies
each (:func:`sklkws.custom_words.augment_recordings`, what ``sklkws train`` does with
recordings), drawn once per row.

With ``--speech DIR`` (keyword-free real speech, e.g. ``../shared/data/speech_negatives``:
other speakers than the test folds') the synthetic clips come with ``--n-speech`` random
1 s cuts of it as ``_unknown_`` (:func:`sklkws.custom_words.make_custom_dataset`, what
``sklkws train --speech`` does), in every row that has the synthetic clips.

With ``--tta 0.16,0.24`` every model is scored with test-time augmentation: its
probabilities averaged over the clip and its copies shifted by each of those seconds
earlier and later (zeros fill in; :class:`sklkws.ensemble.TTAClassifier` with one crop,
which also places the content of a zero-padded training clip at random), here five views
per clip.

Printed: one accuracy per row and fold, and the mean over the folds run.
"""

import argparse
import json
import time

import numpy as np
from sklearn.model_selection import GroupKFold

from sklkws.custom_words import (augment_recordings, embedding_spotter_pipeline, make_custom_dataset,
                                  small_spotter_pipeline)
from sklkws.datasets import COMMAND_WORDS, load_background_noise, load_speech_commands
from sklkws.ensemble import TTAClassifier


def _shots(y, train, k, rng):
    """``k`` clips per class drawn from the rows ``train`` (all of a class's clips when it has fewer)."""
    picked = [rng.permutation(train[y[train] == label])[:k] for label in np.unique(y[train])]
    return np.concatenate(picked)


def tta_shifts(seconds, sample_rate=16000):
    """``"0.16,0.24"`` -> sample shifts ``(-3840, -2560, 0, 2560, 3840)``; empty or None -> None."""
    if not seconds:
        return None
    magnitudes = sorted({int(round(abs(float(s)) * sample_rate)) for s in seconds.split(",") if s} - {0})
    return tuple([-m for m in reversed(magnitudes)] + [0] + magnitudes)


def _fit_score(X_train, y_train, X_test, y_test, epochs, seed, frontend="scratch", head="mlp", shifts=None):
    t0 = time.perf_counter()
    if frontend == "embedding":
        model = embedding_spotter_pipeline(head=head, random_state=seed)
    else:
        model = small_spotter_pipeline(epochs=epochs, random_state=seed)
    if shifts is not None:
        model = TTAClassifier(model, n_crops=1, shifts=shifts, random_state=seed)
    model.fit(X_train, y_train)
    return float(np.mean(model.predict(X_test) == y_test)), time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a Speech Commands folder")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--run-folds", type=int, default=1, help="how many of the folds to run (default 1)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-per-word", type=int, default=120, help="synthetic clips per word")
    parser.add_argument("--shots", default="5,10,25", help="real clips per class for the few-shot rows")
    parser.add_argument("--conditions", default="synthetic,fewshot,all")
    parser.add_argument("--out", help="write the results as JSON")
    parser.add_argument("--frontends", default="scratch,embedding",
                        help="scratch (TC-ResNet from scratch) and/or embedding (speech_embedding + --head)")
    parser.add_argument("--head", choices=("mlp", "linear"), default="mlp",
                        help="the embedding front end's head (embedding_spotter_pipeline)")
    parser.add_argument("--recording-copies", type=int, default=0,
                        help="augmented copies of each few-shot real clip (augment_recordings; default 0)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--speech", help="a folder of keyword-free real speech: cuts of it join the synthetic "
                                         "_unknown_ clips")
    parser.add_argument("--n-speech", type=int, default=None,
                        help="cuts of --speech (default: --n-per-word, as sklkws train)")
    parser.add_argument("--tta", help="seconds, comma-separated: score every model on the clip and its copies "
                                      "shifted by each of them both ways (TTAClassifier)")
    args = parser.parse_args(argv)
    try:
        shifts = tta_shifts(args.tta)
    except ValueError:
        parser.error(f"--tta takes seconds separated by commas (e.g. 0.16,0.24), got {args.tta!r}")
    frontends = [f for f in args.frontends.split(",") if f]
    if not frontends or set(frontends) - {"scratch", "embedding"}:
        parser.error(f"--frontends takes scratch and/or embedding, got {args.frontends!r}")
    conditions = set(args.conditions.split(","))
    unknown = conditions - {"synthetic", "fewshot", "all"}
    if unknown:
        parser.error(f"unknown condition(s) {sorted(unknown)}; choose from synthetic, fewshot, all")
    shots = [int(k) for k in args.shots.split(",") if k]

    X, y, groups = load_speech_commands(args.data, n_jobs=-1)
    noise = load_background_noise(args.data)
    speech = None
    if args.speech:
        from sklkws.streaming import load_negative_audio

        speech = load_negative_audio(args.speech)
    # The custom-word recipe's training set without recordings: synthetic words, other words, noise
    # (and cuts of real speech with --speech); the real clips join it per row below.
    X_syn, y_syn, syn_groups = make_custom_dataset(COMMAND_WORDS, n_per_word=args.n_per_word, speech=speech,
                                                   background_noise=noise, n_speech_unknown=args.n_speech,
                                                   random_state=args.random_state)
    n_cuts = int(np.sum(syn_groups == "speech"))
    print(f"real: {len(X)} clips, {len(np.unique(groups))} speakers; synthetic: {len(X_syn) - n_cuts} clips"
          f"{f' + {n_cuts} cuts of real speech' if n_cuts else ''}; "
          f"{args.epochs} epochs; folds {args.run_folds} of {args.folds}"
          f"{'' if shifts is None else f'; test-time shifts {list(shifts)} samples'}", flush=True)
    rows = []
    rng = np.random.default_rng(args.random_state)
    for fold, (train, test) in enumerate(GroupKFold(args.folds).split(X, y, groups)):
        if fold >= args.run_folds:
            break
        runs = []
        if "synthetic" in conditions:
            runs.append(("synthetic only", X_syn, y_syn))
        if "fewshot" in conditions:
            for k in shots:
                few = _shots(y, train, k, rng)
                X_few, y_few = augment_recordings(X[few], y[few], args.recording_copies, background_noise=noise,
                                                  random_state=args.random_state)
                runs.append((f"{k} real/class", X_few, y_few))
                runs.append((f"{k} real/class + synthetic", np.concatenate([X_few, X_syn]),
                             np.concatenate([y_few, y_syn])))
        if "all" in conditions:
            runs.append(("all real", X[train], y[train]))
            runs.append(("all real + synthetic", np.concatenate([X[train], X_syn]), np.concatenate([y[train], y_syn])))
        for name, X_train, y_train in runs:
            for frontend in frontends:
                accuracy, seconds = _fit_score(X_train, y_train, X[test], y[test], args.epochs, args.random_state,
                                               frontend, args.head, shifts)
                rows.append({"fold": fold, "training": name, "frontend": frontend, "n_train": int(len(X_train)),
                             "accuracy": accuracy, "seconds": round(seconds, 1)})
                print(f"fold {fold + 1}  {name:<28} {frontend:<9} {len(X_train):>6} clips  accuracy {accuracy:.3f}  "
                      f"({seconds:.0f} s)", flush=True)
    print("\n| training clips | " + " | ".join(f"{f}: accuracy on unseen real speakers" for f in frontends)
          + " |\n|---|" + "---|" * len(frontends))
    for name in dict.fromkeys(r["training"] for r in rows):
        cells = [np.mean([r["accuracy"] for r in rows if r["training"] == name and r["frontend"] == f])
                 for f in frontends]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
