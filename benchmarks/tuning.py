"""Tune a small CNN's learning rate and decay on Speech Commands; gain over the defaults.

    python benchmarks/tuning.py [--data DIR] [--n-trials 8] [--epochs 8] [--cv 2]

Speakers are split 75/25 into a development and a held-out set. OptunaSearch runs a
study on the development set (speaker-grouped CV, per-epoch pruning on the
classifier's grouped validation split, the default space: learning rate, decay and
decay rate); its first trial is the classifier's defaults (lr 1e-3, cosine decay to
1 %), so the study also gives their CV score. Both the defaults and the best
parameters are then trained on the whole development set and scored on the held-out
speakers. The study lives in an SQLite file: re-running the same command resumes it.

Prints the best learning rate and decay, CV and held-out accuracy of both, the gain,
the pruned trials and the time; writes the plots (PNG) and a JSON summary to --out.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import optuna
from sklearn.base import clone
from sklearn.model_selection import GroupShuffleSplit

from sklkws.datasets import load_speech_commands
from sklkws.features import MelFeatures
from sklkws.tuning import OptunaSearch

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = {"learning_rate": 1e-3, "decay": "cosine", "decay_rate": 0.01}  # KerasClassifierBase's
# A small cnn6 (about 150k weights, 8 s per epoch on 2 CPU cores): lr/decay is the question here.
ARCH_PARAMS = {"filters": (8, 8, 16, 16, 32, 32), "dense_units": (64,)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "speech_commands"))
    parser.add_argument("--n-trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--cv", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "output" / "tuning"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    from sklkws.models import KerasCNNClassifier  # imports TensorFlow

    X, y, groups = load_speech_commands(args.data, progress=False)
    features = MelFeatures(kind="logmel", n_mels=40).fit_transform(X)  # fixed front end: computed once
    dev, test = next(GroupShuffleSplit(1, test_size=0.25, random_state=args.seed).split(features, y, groups))
    # Log-mels are in dB (about -100..25): scale them to unit range with development statistics.
    features = (features - features[dev].mean()) / features[dev].std()
    print(f"{len(X)} clips, {len(np.unique(groups))} speakers: {len(dev)} development, {len(test)} held out")

    clf = KerasCNNClassifier(
        "cnn6", ARCH_PARAMS, epochs=args.epochs, batch_size=64, validation_split=0.15, random_state=args.seed
    )
    storage = f"sqlite:///{out / 'study.db'}"
    name = f"cnn6-e{args.epochs}-cv{args.cv}-s{args.seed}"
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
    if not study.trials:
        study.enqueue_trial(DEFAULTS)

    search = OptunaSearch(
        clf,
        cv=args.cv,
        n_trials=args.n_trials,
        storage=storage,
        study_name=name,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2),
        random_state=args.seed,
        verbose=1,
    ).fit(features[dev], y[dev], groups=groups[dev])

    res = search.cv_results_
    default_row = int(np.flatnonzero(res["trial_number"] == 0)[0])
    default_model = clone(clf).set_params(**DEFAULTS).fit(features[dev], y[dev], groups=groups[dev])
    summary = {
        "best_params": search.best_params_,
        "cv_accuracy_best": search.best_score_,
        "cv_accuracy_defaults": float(res["mean_test_score"][default_row]),
        "heldout_accuracy_defaults": float(default_model.score(features[test], y[test])),
        "heldout_accuracy_best": float(search.score(features[test], y[test])),
        "n_trials": int(search.n_trials_),
        "n_pruned": int(np.sum(res["state"] == "PRUNED")),
        "epochs_run": int(res["n_epochs"].sum()),
        "epochs_without_pruning": int(len(res["state"]) * args.cv * args.epochs),
        "seconds": time.perf_counter() - start,
    }
    summary["heldout_gain"] = summary["heldout_accuracy_best"] - summary["heldout_accuracy_defaults"]
    search.save_plots(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))

    best = search.best_params_
    print(f"best: learning_rate={best['learning_rate']:.2e}, decay={best['decay']}, "
          f"decay_rate={best['decay_rate']:.3g}")
    print(f"CV accuracy       defaults {summary['cv_accuracy_defaults']:.3f}  best {summary['cv_accuracy_best']:.3f}")
    print(f"held-out accuracy defaults {summary['heldout_accuracy_defaults']:.3f}  "
          f"best {summary['heldout_accuracy_best']:.3f}  gain {summary['heldout_gain']:+.3f}")
    print(f"{summary['n_pruned']} of {summary['n_trials']} trials pruned: {summary['epochs_run']} epochs trained "
          f"instead of {summary['epochs_without_pruning']}; {summary['seconds']:.0f} s in all; plots in {out}")
    return summary


if __name__ == "__main__":
    main()
