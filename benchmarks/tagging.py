"""The tagging seed's recipe on synthetic multi-label clips: single model, TTA, stacking vs averaging.

    python benchmarks/tagging.py [--n-clips 600] [--epochs 40] [--cv 3] [--seed 0] [--save F.npz | --load F.npz]
    python benchmarks/tagging.py --data DIR ...   # the recipe on real ESC-10: see esc_main below

Data: :func:`sklkws.datasets.make_synthetic_tagging` (10 command words + 3 noise
colours, 1-3 labels per clip, 2-4 s), trimmed with ``TrimSilence``, split 70/30.
Every member is ``TTAClassifier(TwoBranchFeatures -> KerasTwoBranchClassifier,
crop_length=1.5 s)``: two random crops per clip with random padding at fit time,
mixup and label smoothing in the classifier, 3 crops x 2 shifts at predict time.
Members differ in the log-mel branch and seed. The stacker is trained on
out-of-fold member probabilities (``cross_val_predict``, as
``StackingClassifier(final_estimator=NeuralStacker(), cv=...)`` does inside; done
by hand so they can be saved); stacker and plain mean then combine the same
members refitted on all training clips. Prints held-out lwlrap for:

- each member with one centre crop (the single model) and with TTA,
- the mean of the members' TTA probabilities,
- the neural stacker over the same probabilities,

and the stacker's gain over the mean (it must be positive for the stacker to be
worth keeping). ``--save`` / ``--load`` keep the member probabilities, so the
stacking step can be rerun in seconds.
"""

import argparse
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline

from sklkws.datasets._tagging import make_synthetic_tagging
from sklkws.ensemble import KerasTwoBranchClassifier, NeuralStacker, TTAClassifier, TwoBranchFeatures
from sklkws.features import GlobalStatFeatures, MelFeatures
from sklkws.metrics import lwlrap
from sklkws.preprocessing import TrimSilence

SR = 16000
CROP = int(1.5 * SR)
N_MELS, STAT_FRAMES = 40, 64
MEMBERS = {  # name -> (mel branch, its parameters, seed)
    "cnn9": ("cnn9", {"filters": (16, 32, 64)}, 1),
    "cnn9_se": ("cnn9", {"filters": (16, 32, 64), "se_ratio": 4}, 2),
    "cnn9_maxtime": ("cnn9", {"filters": (16, 32, 64), "time_pool": "max"}, 3),
    "bcresnet": ("bcresnet", {"width": 1}, 4),
}


def member(mel_arch, mel_params, seed, epochs):
    features = TwoBranchFeatures(MelFeatures(n_mels=N_MELS, hop_length=256),
                                 GlobalStatFeatures(STAT_FRAMES, include_length=True))
    clf = KerasTwoBranchClassifier(
        arch_params={"n_mels": N_MELS, "n_stats": 12 * STAT_FRAMES + 1, "mel_arch": mel_arch,
                     "mel_params": mel_params, "head_units": 64},
        mixup_alpha=0.4, label_smoothing=0.05, epochs=epochs, batch_size=32, learning_rate=3e-3,
        random_state=seed,
    )
    # Features once per fit (a Pipeline step): per-batch features in the classifier's frontend
    # would allow fresh random shifts every epoch, at several times the cost on this CPU.
    return TTAClassifier(make_pipeline(features, clf), n_crops=3, crop_length=CROP, shifts=(0, SR // 10),
                         n_train_crops=2, random_state=seed)


def member_probabilities(args, start):
    """Out-of-fold train probabilities and held-out TTA / single-crop probabilities of every member.

    What ``StackingClassifier(cv=...)`` does inside, done by hand so the probabilities
    can be saved (``--save``) and the stacking step rerun alone (``--load``).
    """
    X, Y, _, names = make_synthetic_tagging(args.n_clips, random_state=args.seed)
    X = TrimSilence(top_db=30).fit_transform(X)
    Xtr, Xte, Ytr, Yte = train_test_split(X, Y, test_size=0.3, random_state=args.seed)
    print(f"{len(X)} clips (up to {X.shape[1] / SR:.1f} s), {len(names)} labels, "
          f"{Y.sum(axis=1).mean():.2f} labels/clip; train {len(Xtr)}, test {len(Xte)} "
          f"[{time.perf_counter() - start:.0f} s]")
    cv = KFold(args.cv, shuffle=True, random_state=args.seed)
    oof, tta, single = [], [], []
    for name, (arch, params, seed) in MEMBERS.items():
        model = member(arch, params, seed, args.epochs)
        oof.append(cross_val_predict(model, Xtr, Ytr, cv=cv, method="predict_proba"))
        fitted = clone(model).fit(Xtr, Ytr)
        tta.append(fitted.predict_proba(Xte))
        single.append(fitted.set_params(n_crops=1, shifts=None).predict_proba(Xte))
        print(f"  member {name}: {args.cv} folds + full fit [{time.perf_counter() - start:.0f} s]")
    # (n, n_labels, n_members), the stacker's 3-D layout
    return dict(names=names, Ytr=Ytr, Yte=Yte, oof=np.stack(oof, -1), tta=np.stack(tta, -1),
                single=np.stack(single, -1))


# ----------------------------------------------------------------------------- real data: ESC-10

ESC_ROWS = {  # row -> what it changes from the full recipe (the ablation), most informative first
    "full": {},
    "no_stats_branch": {"two_branch": False},
    "no_se": {"se": False},
    "no_mixup": {"mixup": 0.0},
    "no_random_crops": {"crops": False},
    "no_label_smoothing": {"smoothing": 0.0},
    "no_trim": {"trim": False},
    "sr44k": {"sr": 44100},
}
ESC_DEFAULTS = dict(two_branch=True, se=True, mixup=0.4, smoothing=0.1, crops=True, trim=True, sr=22050)


def esc_model(opts, *, epochs, seed, crop_s, filters):
    """One ESC-10 model: the full recipe, or the full recipe with one technique removed (``opts``).

    Log-mel: 64 bands, 2048-sample windows at 44.1 kHz (46 ms; hop 23 ms), halved at
    22.05 kHz so the frames are the same; ``MelFeatures`` is the numpy twin of the
    in-model ``MelFeaturesLayer`` (one formula, see docs/frontend.md), computed once
    per fit as a Pipeline step because per-batch features cost several times more on
    this CPU.
    """
    sr = opts["sr"]
    scale = sr // 22050
    mel = MelFeatures(sample_rate=sr, n_fft=1024 * scale, hop_length=512 * scale, n_mels=64)
    mel_params = {"filters": filters, "se_ratio": 4 if opts["se"] else None}
    train = dict(mixup_alpha=opts["mixup"], label_smoothing=opts["smoothing"], epochs=epochs, batch_size=32,
                 learning_rate=3e-3, random_state=seed)
    if opts["two_branch"]:
        features = TwoBranchFeatures(mel, GlobalStatFeatures(128, include_length=True, sample_rate=sr))
        clf = KerasTwoBranchClassifier(arch_params={"n_mels": 64, "n_stats": 12 * 128 + 1, "mel_arch": "cnn9",
                                                    "mel_params": mel_params, "head_units": 64}, **train)
    else:
        from sklkws.models import KerasCNNClassifier

        features, clf = mel, KerasCNNClassifier(arch="cnn9", arch_params=mel_params, **train)
    pipe = make_pipeline(features, clf)
    if not opts["crops"]:  # the whole 5 s clip, no crops at fit time and one view at predict time
        return TTAClassifier(pipe, n_crops=1, crop_length=int(5 * sr), n_train_crops=1, random_state=seed)
    return TTAClassifier(pipe, n_crops=3, crop_length=int(crop_s * sr), n_train_crops=2, random_state=seed)


def esc_load(data, sr, trim):
    """ESC-10 at ``sr``, 5 s per clip, the official fold from the file-name prefix."""
    import warnings

    from sklkws.datasets import ClipLengthWarning, load_audio_folder

    with warnings.catch_warnings():
        # 5 of the 400 recordings are 3.6-7.2 s long; cut or padded to 5 s like the others.
        warnings.simplefilter("ignore", ClipLengthWarning)
        X, y, fold = load_audio_folder(data, sample_rate=sr, duration=5.0, groups=r"^(\d)-", n_jobs=2)
    if trim:
        X = TrimSilence().fit_transform(X)
    return X, y, fold.astype(int)


def esc_pairs(X, y, rows, rng):
    """Every clip of ``rows`` mixed with a random clip of another class: two labels per clip."""
    other = np.array([rng.choice(rows[y[rows] != y[r]]) for r in rows])
    mixed = X[rows].astype(np.float32) + X[other]
    mixed /= np.maximum(np.abs(mixed).max(axis=1, keepdims=True), 1.0)
    classes = np.unique(y)
    Y = (classes[None, :] == y[rows][:, None]) | (classes[None, :] == y[other][:, None])
    return mixed, Y.astype(int)


def esc_run_row(name, args, start):
    opts = {**ESC_DEFAULTS, **ESC_ROWS[name]}
    X, y, fold = esc_load(args.data, opts["sr"], opts["trim"])
    classes = np.unique(y)
    tta, single = np.zeros((len(y), len(classes))), np.zeros((len(y), len(classes)))
    done = np.zeros(len(y), dtype=bool)
    for k in args.folds:
        test = fold == k
        model = esc_model(opts, epochs=args.epochs, seed=args.seed + k, crop_s=args.crop, filters=args.filters)
        model.fit(X[~test], y[~test])
        tta[test] = model.predict_proba(X[test])
        single[test] = model.set_params(n_crops=1).predict_proba(X[test])
        done |= test
        acc = np.mean(classes[tta[test].argmax(1)] == y[test])
        print(f"  {name} fold {k}: TTA accuracy {acc:.4f} [{time.perf_counter() - start:.0f} s]", flush=True)
    return dict(y=y, fold=fold, done=done, tta=tta, single=single, classes=classes)


def esc_run_pairs(args, start):
    """Multi-label: ESC-10 clips mixed in pairs (both labels), sigmoid outputs, lwlrap per fold."""
    opts = dict(ESC_DEFAULTS)
    X, y, fold = esc_load(args.data, opts["sr"], opts["trim"])
    rng = np.random.default_rng(args.seed)
    scores = []
    for k in args.folds:
        Xtr, Ytr = esc_pairs(X, y, np.flatnonzero(fold != k), rng)
        Xte, Yte = esc_pairs(X, y, np.flatnonzero(fold == k), rng)
        model = esc_model(opts, epochs=args.epochs, seed=args.seed + k, crop_s=args.crop, filters=args.filters)
        model.fit(Xtr, Ytr)
        scores.append((lwlrap(Yte, model.predict_proba(Xte)),
                       lwlrap(Yte, model.set_params(n_crops=1).predict_proba(Xte))))
        print(f"  pairs fold {k}: lwlrap TTA {scores[-1][0]:.4f}, single crop {scores[-1][1]:.4f} "
              f"[{time.perf_counter() - start:.0f} s]", flush=True)
    return np.array(scores)


def esc_report(out_dir, rows):
    """The ablation table from the saved rows: 5-fold accuracy single crop / TTA, gain of each technique."""
    import os

    from sklearn.metrics import accuracy_score

    results = {}
    for name in rows:
        file = os.path.join(out_dir, f"{name}.npz")
        if os.path.exists(file):
            results[name] = dict(np.load(file, allow_pickle=True))
    if not results:
        print("no saved rows")
        return

    def accuracy(r, key, mask):
        return accuracy_score(r["y"][mask], r["classes"][r[key][mask].argmax(1)])

    full = results.get("full")
    print("| row | folds | single crop | 3-crop TTA | full recipe on the same folds (TTA) | gain of the technique "
          "(full - row, TTA) | minutes |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        d = r["done"]
        folds = sorted(set(r["fold"][d]))
        row = f"| {name} | {','.join(map(str, folds))} | {accuracy(r, 'single', d):.4f} | {accuracy(r, 'tta', d):.4f} |"
        if name != "full" and full is not None and (full["done"] >= d).all():
            # The gain on exactly the clips this row was scored on.
            ref = accuracy(full, "tta", d)
            row += f" {ref:.4f} | {ref - accuracy(r, 'tta', d):+.4f} |"
        else:
            row += " | |"
        print(row + f" {float(r['seconds']) / 60:.1f} |")
    # Ensemble of the 22.05 kHz rows on the clips all of them were scored on: mean vs neural stacker.
    members = [n for n in results if n != "sr44k"]
    common = np.logical_and.reduce([results[n]["done"] for n in members]) if members else None
    if len(members) >= 2 and len(set(results[members[0]]["fold"][common])) >= 2:
        r0 = results[members[0]]
        y, fold, c = r0["y"][common], r0["fold"][common], r0["classes"]
        P = np.stack([results[n]["tta"][common] for n in members], axis=-1)
        mean = accuracy_score(y, c[P.mean(-1).argmax(1)])
        stacked = np.zeros(P.shape[:2])
        for k in np.unique(fold):
            # Stacker for fold k fitted on the other folds' out-of-fold probabilities.
            test = fold == k
            stacker = NeuralStacker(random_state=0).fit(P[~test], y[~test])
            stacked[test] = stacker.predict_proba(P[test])
        stack = accuracy_score(y, c[stacked.argmax(1)])
        best = max(accuracy_score(y, c[P[..., m].argmax(1)]) for m in range(len(members)))
        print(f"\nensemble of {len(members)} rows ({', '.join(members)}) on folds "
              f"{','.join(map(str, sorted(set(fold))))}, 3-crop TTA each: best member {best:.4f} | mean {mean:.4f} "
              f"| NeuralStacker {stack:.4f} (gain over the mean {stack - mean:+.4f})")


def esc_main(argv):
    """``--data DIR``: the seed's recipe on ESC-10, official 5 folds, one ablation row at a time."""
    import os

    parser = argparse.ArgumentParser(description="The tagging seed's recipe on ESC-10 (official folds).")
    parser.add_argument("--data", required=True, help="ESC-10 folder (one sub-folder per class)")
    parser.add_argument("--rows", nargs="+", default=list(ESC_ROWS), choices=list(ESC_ROWS) + ["none"])
    parser.add_argument("--folds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=15,
                        help="15: the ablation table's budget; 30 for the best single model (docs/tagging.md)")
    parser.add_argument("--crop", type=float, default=2.0, help="crop length in seconds")
    parser.add_argument("--filters", type=int, nargs="+", default=[16, 32, 64, 64])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="esc10_rows", help="folder of the saved rows (.npz)")
    parser.add_argument("--pairs", action="store_true", help="also the multi-label pairs run (lwlrap)")
    parser.add_argument("--report", action="store_true", help="only print the table of the saved rows")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    if not args.report:
        print(f"ESC-10 {args.data}: folds {args.folds}, {args.epochs} epochs, {args.crop} s crops, "
              f"cnn9 filters {args.filters}", flush=True)
        for name in [r for r in args.rows if r != "none"]:
            t0 = time.perf_counter()
            r = esc_run_row(name, args, start)
            np.savez(os.path.join(args.out, f"{name}.npz"), seconds=time.perf_counter() - t0, **r)
        if args.pairs:
            scores = esc_run_pairs(args, start)
            np.save(os.path.join(args.out, "pairs.npy"), scores)
    esc_report(args.out, list(ESC_ROWS))
    pairs = os.path.join(args.out, "pairs.npy")
    if os.path.exists(pairs):
        s = np.load(pairs)
        print(f"multi-label pairs ({len(s)} folds): lwlrap 3-crop TTA {s[:, 0].mean():.4f}, "
              f"single crop {s[:, 1].mean():.4f}")
    print(f"total {time.perf_counter() - start:.0f} s")


def main(argv=None):
    if argv is None:
        import sys

        argv = sys.argv[1:]
    if "--data" in argv or any(a.startswith("--data=") for a in argv):
        return esc_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="save member probabilities to this .npz")
    parser.add_argument("--load", default=None, help="reuse member probabilities from this .npz")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    if args.load:
        p = dict(np.load(args.load, allow_pickle=False))
    else:
        p = member_probabilities(args, start)
        if args.save:
            np.savez(args.save, **p)
    Yte = p["Yte"]
    for m, name in enumerate(MEMBERS):
        print(f"  {name:14s} single crop {lwlrap(Yte, p['single'][..., m]):.4f} | "
              f"TTA (3 crops x 2 shifts) {lwlrap(Yte, p['tta'][..., m]):.4f}")
    single = np.mean([lwlrap(Yte, p["single"][..., m]) for m in range(len(MEMBERS))])
    tta = np.mean([lwlrap(Yte, p["tta"][..., m]) for m in range(len(MEMBERS))])
    print(f"mean single-crop member {single:.4f} | mean TTA member {tta:.4f} (TTA gain {tta - single:+.4f})")

    lw_mean = lwlrap(Yte, p["tta"].mean(axis=-1))
    print(f"ensemble: mean of members {lw_mean:.4f} (out of fold on train: "
          f"{lwlrap(p['Ytr'], p['oof'].mean(axis=-1)):.4f})")
    for label, params in (("NeuralStacker (seed)", {}), ("NeuralStacker(mixing_l2=0.1)", {"mixing_l2": 0.1})):
        stacker = NeuralStacker(random_state=args.seed, **params).fit(p["oof"], p["Ytr"])
        lw_stack = lwlrap(Yte, stacker.predict_proba(p["tta"]))
        print(f"  {label:28s} {lw_stack:.4f}: gain over the mean {lw_stack - lw_mean:+.4f} "
              f"({'keep it' if lw_stack > lw_mean else 'NOT worth keeping'}); in-sample on the "
              f"out-of-fold rows {lwlrap(p['Ytr'], stacker.predict_proba(p['oof'])):.4f}")
    print(f"per-label member weights of the last stacker (rows: labels, columns: {list(MEMBERS)}):")
    for label, w in zip(p["names"], stacker.member_weights_):
        print(f"  {label:12s} " + " ".join(f"{v:.2f}" for v in w))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
