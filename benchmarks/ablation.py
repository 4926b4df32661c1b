"""Recipe ablations: one network per (fold, seed), its test probabilities kept, votes scored later.

    python benchmarks/ablation.py --data DIR --tag NAME [--seed 0] [--folds 5] [--only-folds 1,2]
        [--epochs 120] [--arch-params JSON] [--classifier-params JSON] [--out DIR]
    python benchmarks/ablation.py --data DIR --combine NAME:SEED [NAME:SEED ...] [--out DIR]

Train mode: for each speaker-grouped fold (``GroupKFold(--folds)``, the folds of
``speech_commands.py``) trains ``recommended_pipeline(n_members=1, random_state=SEED)``
with the given overrides (``--arch-params`` merged into the recommended TC-ResNet's,
``--classifier-params`` passed to :func:`sklkws.recipes.recommended_classifier`, e.g.
``'{"mixup_alpha": 0.2}'`` or ``'{"n_mels": 64}'``) and writes
``OUT/NAME/seedSEED_foldK.npz`` (test probabilities, classes, test rows, accuracy,
minutes, MACs). A run is one member of the recommended vote when it has that member's
seed and changes: seeds 0 and 1 of the plain recipe are ``net0`` and ``net1``; ``--seed 2
--arch-params '{"stem2d": 0}' --classifier-params '{"n_mels": 64}'`` is ``net2``
(:data:`sklkws.recipes.RECOMMENDED_MEMBERS`). So members can be trained one process
each (one thread each: ``TF_NUM_INTRAOP_THREADS=1``) and recombined.

Combine mode: the soft vote of saved runs (mean of their probabilities, which is what
``VotingClassifier(voting="soft")`` computes), per fold and on average, next to each
member alone; only folds that every named run has are scored. Single-fold differences
of one seed move about +-0.8 points, so compare over all five folds.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GroupKFold

from sklkws.datasets import load_background_noise, load_speech_commands


def train(args, X, y, groups):
    from sklkws.models import count_macs
    from sklkws.recipes import RECOMMENDED_ARCH, recommended_pipeline

    try:
        noise = load_background_noise(args.data)
    except ValueError:
        noise = None
    arch_params = {**RECOMMENDED_ARCH[1], **json.loads(args.arch_params)}
    folder = Path(args.out) / args.tag
    folder.mkdir(parents=True, exist_ok=True)
    for fold, (rows, test) in selected_folds(args, X, y, groups):
        path = folder / f"seed{args.seed}_fold{fold + 1}.npz"
        if path.exists():  # finished runs are kept: a killed sweep resumes where it stopped
            print(f"fold {fold + 1}: {path} exists, skipped", flush=True)
            continue
        pipe = recommended_pipeline(n_members=1, arch_params=arch_params, epochs=args.epochs, background_noise=noise,
                                    random_state=args.seed, **json.loads(args.classifier_params))
        start = time.perf_counter()
        pipe.fit(X[rows], y[rows])
        minutes = (time.perf_counter() - start) / 60
        proba = pipe.predict_proba(X[test])
        accuracy = accuracy_score(y[test], pipe.classes_[proba.argmax(1)])
        macs = count_macs(pipe[-1].model_)
        np.savez(path, proba=proba, classes=pipe.classes_, test=test, accuracy=accuracy, minutes=minutes, macs=macs)
        print(f"fold {fold + 1}: {args.tag} seed {args.seed} accuracy {accuracy:.4f}, {minutes:.1f} min, "
              f"MACs/clip {macs / 1e6:.1f} M", flush=True)


def selected_folds(args, X, y, groups):
    splits = list(enumerate(GroupKFold(n_splits=args.folds).split(X, y, groups)))
    if args.only_folds:
        wanted = {int(f) - 1 for f in args.only_folds.split(",")}
        splits = [split for split in splits if split[0] in wanted]
    return splits


def combine(args, y):
    """Print each run's and the soft vote's accuracy per fold and their means."""
    runs = {}
    for name in args.combine:
        tag, _, seed = name.partition(":")
        files = sorted((Path(args.out) / tag).glob(f"seed{seed or 0}_fold*.npz"))
        if not files:
            raise SystemExit(f"no saved runs for {name!r} under {args.out}/{tag}")
        runs[name] = {int(f.stem.rsplit("fold", 1)[1]): np.load(f, allow_pickle=True) for f in files}
    folds = sorted(set.intersection(*(set(r) for r in runs.values())))
    if not folds:
        raise SystemExit("the named runs share no fold")
    scores = {name: [] for name in [*runs, "vote"]}
    for fold in folds:
        saved = [runs[name][fold] for name in runs]
        test, classes = saved[0]["test"], saved[0]["classes"]
        if any(not np.array_equal(s["test"], test) or not np.array_equal(s["classes"], classes) for s in saved):
            raise SystemExit(f"fold {fold}: the runs were scored on different clips or classes")
        for name, s in zip(runs, saved):
            scores[name].append(float(s["accuracy"]))
        proba = np.mean([s["proba"] for s in saved], axis=0)
        scores["vote"].append(accuracy_score(y[test], classes[proba.argmax(1)]))
    print(f"folds {', '.join(map(str, folds))}")
    for name, values in scores.items():
        per_fold = " ".join(f"{v:.4f}" for v in values)
        print(f"  {name:24s} {np.mean(values):.4f} (+- {np.std(values):.4f})   {per_fold}")
    macs = sum(float(runs[name][folds[0]]["macs"]) for name in runs)
    minutes = [sum(float(runs[name][f]["minutes"]) for name in runs) for f in folds]
    print(f"  vote: {macs / 1e6:.1f} M MACs/clip (networks), {min(minutes):.1f}-{max(minutes):.1f} min/fold "
          "(sum of the members' training times as they were run)")
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="Speech Commands folder (standard layout)")
    parser.add_argument("--tag", help="name of this recipe variant (train mode)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5, help="speaker-grouped folds (5 in speech_commands.py)")
    parser.add_argument("--only-folds", default=None, help="comma-separated fold numbers (1-based)")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--arch-params", default="{}", help="merged into the recommended arch_params (JSON)")
    parser.add_argument("--classifier-params", default="{}", help="recommended_classifier parameters (JSON)")
    parser.add_argument("--combine", nargs="+", metavar="NAME:SEED", help="score the soft vote of saved runs")
    parser.add_argument("--out", default="benchmarks/output/ablation")
    args = parser.parse_args(argv)
    if not args.combine and not args.tag:
        parser.error("give --tag to train or --combine to score saved runs")
    X, y, groups = load_speech_commands(args.data)
    if args.combine:
        return combine(args, y)
    train(args, X, y, groups)


if __name__ == "__main__":
    main()
