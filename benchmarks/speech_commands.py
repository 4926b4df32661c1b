"""Speech Commands benchmark: the recommended pipeline against the seed's 1-D ResNet and a vote.

    python benchmarks/speech_commands.py --data DIR [--test DIR] [--save FILE] [--folds 5]
        [--run-folds N] [--epochs 120] [--arch tcresnet] [--arch-params JSON]
        [--classifier-params JSON] [--members 3] [--member-params JSON]
        [--distill] [--teacher-weight 0.5] [--student-params JSON]
        [--models recommended,resnet1d,vote] [--only-folds 1,2] [--out DIR]
    python benchmarks/speech_commands.py --data DIR --overhead 1280 [--epochs 4]

Cross-validation mode (no ``--test``): ``--folds`` speaker-grouped folds (``GroupKFold``,
no speaker on both sides), of which the first ``--run-folds`` (or those listed in
``--only-folds``, to share the folds between processes) are run. For each fold
and model it prints accuracy, training time, parameters and MACs per 1 s clip; then the
mean accuracy, the per-class report of the recommended model over all folds run, and
writes its confusion matrix to ``OUT/confusion_<model>.png``.

Test mode (``--test DIR``): trains on all of ``--data`` and reports accuracy on the
other folder (standard or canonical-test layout); ``--save FILE`` writes the fitted
recommended pipeline (the vote when it ran) with joblib.

Overhead mode (``--overhead N``): the recommended pipeline trained on the first N clips
for ``--epochs`` epochs with and without its per-batch augmentation (raw-audio chain and
SpecAugment), twice each in alternating order; prints the median epoch time of each
(first epoch of every run left out: it traces the graph) and the overhead, plus the
data side alone: one epoch of batches drawn without training.

Models:

- ``recommended``: :func:`sklkws.recipes.recommended_pipeline`: peak normalisation,
  log-mels as the classifier's ``frontend``, raw-audio augmentation drawn afresh every
  batch (background noise from ``_background_noise_`` and pink noise, time shift, gain)
  and SpecAugment on the log-mels, into a soft vote of ``--members`` TC-ResNet14-1.5:
  two with a 2-D stem on 40 x 101 log-mels (308 k parameters, 7.9 M MACs per clip), one
  without it on 64 (307 k, 7.0 M), as :data:`sklkws.recipes.RECOMMENDED_MEMBERS` says
  (``--member-params '[{}, {}, {}]'`` for equal members). The members (``net0`` ...)
  are scored too, from the fitted vote, so nothing is trained twice; ``--members 1``
  trains the single network.
  ``--distill`` trains one more network on the vote's probabilities and deploys that
  (``teachers`` and ``teacher_net0`` ... are then the vote and its members).
- ``resnet1d``: the seed's 1-D ResNet on raw audio (17 residual blocks), same
  augmentation.
- ``res8``: the res8-style 2-D ResNet with 45 maps (the paper's width), same recipe.
- ``vote``: the seed's final model, ``VotingClassifier(voting="hard")`` of three: a
  single recommended network, ``resnet1d`` and ``res8``; members are scored from the
  fitted vote's ``named_estimators_``.
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.metrics import accuracy_score, classification_report
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline

from sklkws.datasets import load_background_noise, load_speech_commands
from sklkws.distillation import DistilledClassifier
from sklkws.models import KerasResNetClassifier, count_macs
from sklkws.models._data import TrainingBatches
from sklkws.plotting import plot_confusion_matrix
from sklkws.preprocessing import Normalizer
from sklkws.recipes import RECOMMENDED_ARCH, recommended_augmentation, recommended_pipeline


def make_models(args, noise, seed=0):
    """name -> unfitted pipeline taking raw 1 s clips ("vote" holds the other three)."""
    common = dict(epochs=args.epochs, learning_rate=args.learning_rate, verbose=args.verbose,
                  **json.loads(args.classifier_params))
    net = dict(arch=args.arch, arch_params=json.loads(args.arch_params), background_noise=noise, **common)
    recommended = recommended_pipeline(n_members=args.members, member_params=json.loads(args.member_params),
                                       distill=args.distill, teacher_weight=args.teacher_weight,
                                       student_params=json.loads(args.student_params), random_state=seed, **net)
    resnet1d_params = {"batch_size": 64, "decay": "cosine", "decay_rate": 0.01, "label_smoothing": 0.1, **common}
    resnet1d = make_pipeline(Normalizer(method="peak"), KerasResNetClassifier(
        "resnet1d", augment=recommended_augmentation(noise), random_state=seed + 1, **resnet1d_params))
    res8 = recommended_pipeline(n_members=1, arch="res2d", arch_params={"filters": 45}, background_noise=noise,
                                random_state=seed + 2, **common)
    models = {"recommended": recommended, "resnet1d": resnet1d, "res8": res8}
    if "vote" in args.models:  # the vote trains and scores its members itself
        single = recommended_pipeline(n_members=1, random_state=seed, **net)
        vote = VotingClassifier([("single", single), ("resnet1d", resnet1d), ("res8", res8)], voting="hard")
        models = {"recommended": recommended, "vote": vote}
    return {name: model for name, model in models.items() if name in args.models}


def parts(name, model):
    """(part name, fitted estimator, prefix, label decoder) of a fitted model: itself, a vote's
    members, a distilled model's teaching vote and its members. Parts inside a pipeline get its
    first steps as ``prefix`` (applied to the clips first); parts trained on encoded labels get
    a decoder back to the labels."""
    out = [(name, model, None, None)]
    prefix, final = (model[:-1], model[-1]) if isinstance(model, Pipeline) else (None, model)
    prefix = prefix if prefix is not None and len(prefix) else None  # the recipe: a one-step Pipeline
    decode, vote, label = None, final, ""
    if isinstance(final, DistilledClassifier):  # its teacher was trained on codes of its classes_
        decode, vote, label = (lambda codes: final.classes_[np.asarray(codes, dtype=int)]), final.teacher_, "teacher_"
        out.append(("teachers", vote, prefix, decode))
    if isinstance(vote, VotingClassifier):  # members answer with the vote's encoded labels
        def member_decode(codes):
            labels = vote.le_.inverse_transform(codes)
            return labels if decode is None else decode(labels)

        out += [(label + member, est, prefix, member_decode) for member, est in vote.named_estimators_.items()]
    return out


def _network(estimator):
    """The fitted Keras classifier of a pipeline, a distilled model (its student) or a classifier."""
    estimator = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    return getattr(estimator, "student_", estimator)


def describe(estimator):
    estimator = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if isinstance(estimator, VotingClassifier):
        macs = sum(count_macs(_network(member).model_) for member in estimator.estimators_)
        return f"vote of {len(estimator.estimators_)}, MACs/clip {macs / 1e6:.1f} M"
    model = _network(estimator).model_
    return f"params {model.count_params():,}, MACs/clip {count_macs(model) / 1e6:.1f} M"


def fit_and_score(models, X_train, y_train, X_test, y_test):
    """Fit every model; return (predictions dict, results dict), vote members and teachers included."""
    predictions, results = {}, {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        minutes = (time.perf_counter() - start) / 60
        for part, estimator, prefix, decode in parts(name, model):
            X = X_test if prefix is None else prefix.transform(X_test)
            predictions[part] = estimator.predict(X)
            if decode is not None:
                predictions[part] = decode(predictions[part])
            results[part] = accuracy_score(y_test, predictions[part])
            print(f"  {part:12s} accuracy {results[part]:.4f}  {describe(estimator)}", flush=True)
        print(f"  {'':12s} {name} trained in {minutes:.1f} min", flush=True)
    return predictions, results


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def measure_overhead(args, X, y, noise):
    """Median epoch time of the recommended pipeline with and without its augmentation."""
    X, y = X[: args.overhead], y[: args.overhead]
    times = {"augmented": [], "plain": []}
    for run in ("augmented", "plain", "plain", "augmented"):
        pipe = recommended_pipeline(n_members=1, arch=args.arch, arch_params=json.loads(args.arch_params),
                                    background_noise=noise, epochs=args.epochs, random_state=0)
        if run == "plain":
            pipe.set_params(kerasresnetclassifier__augment=None, kerasresnetclassifier__feature_augment=None)
        timer = EpochTimer()
        pipe.set_params(kerasresnetclassifier__callbacks=[timer]).fit(X, y)
        times[run] += timer.seconds[1:]
        print(f"  {run:9s} epochs (s): {' '.join(f'{t:.1f}' for t in timer.seconds)}", flush=True)
    plain, augmented = np.median(times["plain"]), np.median(times["augmented"])
    print(f"median epoch: plain {plain:.1f} s, augmented {augmented:.1f} s: "
          f"augmentation adds {100 * (augmented / plain - 1):+.1f} % (target <= 10 %)")
    # The data side alone: every batch of one epoch, augmented and through the front end, no training.
    clf = pipe[-1]  # the last run was augmented
    n = len(X)
    batches = TrainingBatches(X, np.zeros((n, 1), np.float32), np.ones(n, np.float32), rows=np.arange(n),
                              batch_size=clf.batch_size, seed=0, normalize=clf.normalizer_.transform,
                              augment=clf.augment, transform=clf.frontend_.transform,
                              feature_augment=clf.feature_augment)
    for label, source in (("augmented", batches), ("plain", None)):
        if source is None:
            batches.augment = batches.feature_augment = None
        start = time.perf_counter()
        for i in range(batches.steps_per_epoch):
            batches[i]
        print(f"  data side of one epoch, {label}: {time.perf_counter() - start:.2f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="Speech Commands folder (standard layout)")
    parser.add_argument("--test", help="separate test folder: train on all of --data, score here")
    parser.add_argument("--save", help="joblib file for the fitted recommended model (with --test)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--run-folds", type=int, default=None, help="run only the first N folds")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--arch", default=RECOMMENDED_ARCH[0], help="architecture of the recommended model")
    parser.add_argument("--arch-params", default=json.dumps(RECOMMENDED_ARCH[1]), help="its arch_params (JSON)")
    parser.add_argument("--classifier-params", default="{}",
                        help='other classifier parameters for every model (JSON), e.g. \'{"mixup_alpha": 0.2}\'')
    parser.add_argument("--members", type=int, default=3, help="networks in the recommended model's vote")
    parser.add_argument("--member-params", default="null",
                        help="per-member recipe parameters (JSON list, one dict per member); null: the recipe's mix")
    parser.add_argument("--distill", action="store_true", help="distil the vote into one network")
    parser.add_argument("--teacher-weight", type=float, default=0.5, help="with --distill")
    parser.add_argument("--student-params", default="{}",
                        help='with --distill: the student\'s recipe parameters (JSON), e.g. \'{"arch_params": {"width": 1, "stem2d": 0}}\'')
    parser.add_argument("--only-folds", default=None, help="comma-separated fold numbers (1-based) to run")
    parser.add_argument("--models", default="recommended,resnet1d,vote")
    parser.add_argument("--out", default="benchmarks/output")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--overhead", type=int, default=0, metavar="N",
                        help="measure the per-epoch cost of augmentation on N clips instead")
    args = parser.parse_args(argv)
    args.models = args.models.split(",")
    unknown = set(args.models) - {"recommended", "resnet1d", "res8", "vote"}
    if unknown:
        parser.error(f"unknown --models {sorted(unknown)}; choose from recommended, resnet1d, res8, vote")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X, y, groups = load_speech_commands(args.data)
    try:
        noise = load_background_noise(args.data)
    except ValueError:
        noise = None
    print(f"{len(X)} clips, {len(np.unique(groups))} speakers/groups, classes: {', '.join(np.unique(y))}")
    if args.overhead:
        return measure_overhead(args, X, y, noise)
    models = make_models(args, noise)

    if args.test:
        X_test, y_test, _ = load_speech_commands(args.test)
        print(f"Training on all {len(X)} clips, testing on {len(X_test)} clips of {args.test}")
        predictions, _ = fit_and_score(models, X, y, X_test, y_test)
        print(classification_report(y_test, predictions["recommended"], digits=3, zero_division=0))
        plot_confusion_matrix(y_test, predictions["recommended"], path=out / "confusion_recommended.png",
                              normalize="true", title="recommended, test folder")
        if args.save:
            import joblib

            name = "recommended" if "recommended" in models else next(iter(models))
            joblib.dump(models[name], args.save)
            print(f"Saved the fitted {name} model to {args.save}")
        return

    splits = list(enumerate(GroupKFold(n_splits=args.folds).split(X, y, groups)))[: args.run_folds or args.folds]
    if args.only_folds:
        wanted = {int(f) - 1 for f in args.only_folds.split(",")}
        splits = [split for split in splits if split[0] in wanted]
    scores, y_true, y_pred = {}, [], {}
    for fold, (train, test) in splits:
        print(f"Fold {fold + 1}/{args.folds}: {len(train)} train, {len(test)} test clips")
        predictions, results = fit_and_score(models, X[train], y[train], X[test], y[test])
        y_true.append(y[test])
        for name, acc in results.items():
            scores.setdefault(name, []).append(acc)
            y_pred.setdefault(name, []).append(predictions[name])
    print(f"\nMean accuracy over {len(splits)} of {args.folds} speaker-grouped folds:")
    for name, values in scores.items():
        print(f"  {name:12s} {np.mean(values):.4f} (+- {np.std(values):.4f})")
    y_true = np.concatenate(y_true)
    for name in ("recommended", "vote"):
        if name in y_pred:
            pred = np.concatenate(y_pred[name])
            print(f"\nPer-class report, {name}:\n" + classification_report(y_true, pred, digits=3, zero_division=0))
            plot_confusion_matrix(y_true, pred, path=out / f"confusion_{name}.png", normalize="true",
                                  title=f"{name}, {len(splits)} speaker-grouped folds")
    print(f"Confusion matrices written to {out}/")


if __name__ == "__main__":
    main()
