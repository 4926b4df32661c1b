"""The tagging seed's recipe on synthetic multi-label clips: single model, TTA, stacking vs averaging.

    python benchmarks/tagging.py [--n-clips 600] [--epochs 40] [--cv 3] [--seed 0] [--save F.npz | --load F.npz]

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


def main(argv=None):
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
