"""Ready-made pipelines: the project's recommended keyword-spotting model in one call.

The demo, the benchmarks and the README build on these, so "the recommended model"
means one thing everywhere.
"""

from sklearn.pipeline import make_pipeline

from .augment import AddNoise, AugmentChain, Gain, SpecAugment, TimeShift
from .features import MelFeatures
from .preprocessing import Normalizer

__all__ = [
    "MICRO_STUDENT",
    "RECOMMENDED_ARCH",
    "RECOMMENDED_MEMBERS",
    "STATEFUL_ARCH",
    "recommended_augmentation",
    "recommended_classifier",
    "recommended_pipeline",
    "stateful_pipeline",
]


def recommended_augmentation(background_noise=None):
    """Per-batch waveform augmentation: coloured and recorded noise, ~100 ms shift, gain.

    Parameters
    ----------
    background_noise : dict or list of 1-D arrays, default=None
        Recorded backgrounds, e.g. ``load_background_noise(path)``; generated pink
        noise only when None.

    Returns
    -------
    chain : AugmentChain

    Examples
    --------
    >>> recommended_augmentation().steps[0][0]
    AddNoise(noise='pink', snr_db=(10.0, 30.0))
    """
    steps = [(AddNoise("pink", snr_db=(10.0, 30.0)), 0.3)]
    if background_noise is not None:
        steps.append((AddNoise(background_noise, snr_db=(0.0, 20.0)), 0.6))
    steps += [(TimeShift(shift_ms=(-100.0, 100.0)), 0.8), (Gain(gain_db=(-6.0, 6.0)), 0.5)]
    return AugmentChain(steps)


#: The recommended network: TC-ResNet14-1.5 (temporal convolutions, Choi et al. 2019) behind
#: a 2-D stem of 8 channels, on 40 x 101 log-mels: 308 k parameters, 7.9 M MACs per 1 s
#: clip. Its dense 1-D convolutions train about three times faster per epoch on CPU than
#: the res8-style ``("res2d", {"filters": 38})`` (79 k parameters, 27.9 M MACs), the
#: previous recommendation, and score higher on unseen speakers (``docs/models.md``).
RECOMMENDED_ARCH = ("tcresnet", {"width": 1.5, "stem2d": 8})

#: What each member of the recommended vote changes in :func:`recommended_classifier`:
#: two networks as above, and a third without the stem on 64 log-mel bands (307 k
#: parameters, 7.0 M MACs). It is the weakest alone but sees the clip differently: votes
#: with it scored 0.952 on unseen speakers over nine seed draws, three equal networks
#: 0.950, with less compute (``benchmarks/ablation.py``, ``docs/models.md``).
RECOMMENDED_MEMBERS = ({}, {}, {"arch_params": {"stem2d": 0}, "n_mels": 64})


def recommended_classifier(
    *, arch=None, arch_params=None, epochs=120, background_noise=None, n_mels=40, bn_momentum=0.99,
    random_state=None, **classifier_params
):
    """One network of the recipe: peak normalisation, log-mels, fresh augmentation every batch, a TC-ResNet.

    The peak :class:`~sklkws.preprocessing.Normalizer` (``normalizer=``) and the
    log-mel front end (``frontend=``) sit inside the classifier: each batch is
    normalised as it is drawn (int16 clips are never copied whole as float32), the
    waveform augmentation (:func:`recommended_augmentation`) is drawn anew on every
    batch, and SpecAugment masks the features. Takes raw clips, float or int16.

    Parameters
    ----------
    arch : str, default=None
        Architecture name in :data:`sklkws.models.ARCHITECTURES`; None for
        :data:`RECOMMENDED_ARCH`.
    arch_params : dict, default=None
        Its builder's parameters (merged into the recommended ones when ``arch`` is None).
    epochs : int, default=120
    background_noise : dict or list of 1-D arrays, default=None
        Passed to :func:`recommended_augmentation`.
    n_mels : int, default=40
    bn_momentum : float, default=0.99
        BatchNorm moving-average momentum; use about 0.9 for small datasets (a few
        hundred clips), where 0.99 leaves the inference statistics unconverged.
    random_state : int, default=None
    **classifier_params
        Other :class:`~sklkws.models.KerasResNetClassifier` parameters (they override
        the recipe's ``learning_rate=3e-3``, cosine decay, ``label_smoothing=0.1``...).

    Returns
    -------
    classifier : sklkws.models.KerasResNetClassifier

    Examples
    --------
    >>> clf = recommended_classifier(epochs=1)
    >>> clf.arch, clf.arch_params["stem2d"], clf.frontend.n_mels, clf.normalizer.method
    ('tcresnet', 8, 40, 'peak')
    """
    import inspect

    from .models import KerasResNetClassifier, get_architecture  # deferred: TensorFlow loads only when asked

    if arch is None:
        arch, default_params = RECOMMENDED_ARCH
        arch_params = {**default_params, **(arch_params or {})}
    arch_params = dict(arch_params or {})
    if "bn_momentum" in inspect.signature(get_architecture(arch)).parameters:
        arch_params.setdefault("bn_momentum", bn_momentum)
    params = dict(
        normalizer=Normalizer(method="peak"),
        frontend=MelFeatures(kind="logmel", n_mels=n_mels),
        augment=recommended_augmentation(background_noise),
        feature_augment=SpecAugment(n_freq_masks=2, freq_width=(0, 6), n_time_masks=2, time_width=(0, 15), fill="mean"),
        epochs=epochs,
        batch_size=64,
        learning_rate=3e-3,
        decay="cosine",
        decay_rate=0.01,
        label_smoothing=0.1,
        random_state=random_state,
    )
    params.update(classifier_params)
    return KerasResNetClassifier(arch, arch_params, **params)


def _override(params, extra):
    """``params`` updated with ``extra``; ``arch_params`` merged unless ``extra`` names another arch."""
    extra = dict(extra)
    if "arch_params" in extra and extra.get("arch", params.get("arch")) == params.get("arch"):
        extra["arch_params"] = {**(params.get("arch_params") or {}), **extra["arch_params"]}
    return {**params, **extra}


#: The ``micro`` budget's network (<= 250 KB int8, <= 20 ms est. Pi 3): the vote distilled into a
#: TC-ResNet14 with the 2-D stem (140 k parameters), ``recommended_pipeline(distill=True,
#: student_params=MICRO_STUDENT)``. It trains twice the members' epochs: the teacher's soft targets
#: keep paying after 120 (docs/models.md, "Longer distillation").
MICRO_STUDENT = {"epochs": 240, "arch_params": {"width": 1.0, "stem2d": 8}}


def recommended_pipeline(
    *, n_members=3, member_params=None, distill=False, teacher_weight=0.5, student_params=None, random_state=None,
    **params
):
    """A soft vote of three TC-ResNets on peak-normalised log-mels.

    ``n_members`` networks of :func:`recommended_classifier`, each with its own seed
    and the changes of :data:`RECOMMENDED_MEMBERS` (two TC-ResNet14-1.5 with the 2-D
    stem on 40 log-mels, one without it on 64), averaged by a soft
    :class:`~sklearn.ensemble.VotingClassifier` (the speech seed's final model was a
    vote of three; averaging probabilities beat its hard vote, 0.934 against 0.926 on
    one fold). About 26 M MACs per 1 s clip with the front ends, exported as one
    graph; 0.954 mean accuracy on unseen speakers over 5 folds of the 3,800-clip
    development set with ``random_state=0`` (0.952 over nine seed draws, against 0.950
    for three equal networks; ``benchmarks/ablation.py``, ``docs/models.md``).
    ``n_members=1`` gives one network (a third of the compute and size; 0.941 on
    average); ``distill=True`` trains one more network on the vote's probabilities
    (:class:`~sklkws.ensemble.DistilledClassifier`) and deploys that alone.
    Every network peak-normalises its batches itself (``normalizer=``), so the
    Pipeline holds no normalised copy of the training set.

    Parameters
    ----------
    n_members : int, default=3
        Networks in the vote; 1 for a single network.
    member_params : list of dict, default=None
        One dict per member of :func:`recommended_classifier` parameters that override
        ``params`` for that member (``arch_params`` merged over the shared ones unless it
        names another ``arch``). None: :data:`RECOMMENDED_MEMBERS` for the first three
        members of the recommended architecture, no change otherwise; ``[{}] *
        n_members`` for equal networks that differ only in their seed.
    distill : bool, default=False
        Distil the vote into one network of the same recipe (needs ``n_members >= 1``;
        costs one more training). The teachers must see the student's features, so
        the default members then all take the shared ``n_mels`` (the third keeps its
        architecture without the stem, not its 64 bands).
    teacher_weight : float, default=0.5
        Weight of the vote's probabilities in the distilled network's targets (0.8
        gave students below the same network trained alone in the benchmark).
    student_params : dict, default=None
        With ``distill``: :func:`recommended_classifier` parameters of the distilled
        network that override ``params``; its ``arch_params`` are merged over the
        vote's unless it names another ``arch``. E.g. :data:`MICRO_STUDENT`: a
        TC-ResNet14 with the 2-D stem trained 240 epochs (140 k parameters, a 212 KB
        int8 file; its ``epochs`` wins over ``params``).
    random_state : int, default=None
        Member ``i`` gets ``random_state + i`` (the distilled student ``random_state +
        n_members``).
    **params
        Passed to :func:`recommended_classifier` for every network (``arch``,
        ``arch_params``, ``epochs``, ``background_noise``, ``n_mels``, ``verbose``...).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Raw 16 kHz clips ``(n_clips, 16000)`` (float or int16) in, labels out; one
        step, the vote (or the network, or the distilled classifier).

    Examples
    --------
    >>> pipe = recommended_pipeline(epochs=1)
    >>> [name for name, _ in pipe.steps]
    ['votingclassifier']
    >>> vote = pipe[-1]
    >>> vote.voting, [name for name, _ in vote.estimators], vote.estimators[0][1].arch
    ('soft', ['net0', 'net1', 'net2'], 'tcresnet')
    >>> [(net.arch_params["stem2d"], net.frontend.n_mels) for _, net in vote.estimators]
    [(8, 40), (8, 40), (0, 64)]
    >>> same = recommended_pipeline(n_members=2, member_params=[{}, {}], epochs=1)[-1]
    >>> [net.frontend.n_mels for _, net in same.estimators]
    [40, 40]
    >>> recommended_pipeline(n_members=1, epochs=1)[-1].arch
    'tcresnet'
    >>> small = recommended_pipeline(distill=True, student_params={"arch_params": {"stem2d": 0}}, epochs=1)
    >>> student = small[-1].student
    >>> type(small[-1]).__name__, student.arch_params["width"], student.arch_params["stem2d"]
    ('DistilledClassifier', 1.5, 0)
    >>> [net.frontend.n_mels for _, net in small[-1].teacher.estimators]
    [40, 40, 40]
    """
    if isinstance(n_members, bool) or not isinstance(n_members, int) or n_members < 1:
        raise ValueError(f"n_members must be a positive integer, got {n_members!r}.")
    if member_params is None:
        recommended = params.get("arch") in (None, RECOMMENDED_ARCH[0])
        member_params = [RECOMMENDED_MEMBERS[i] if recommended and i < len(RECOMMENDED_MEMBERS) else {}
                         for i in range(n_members)]
        if distill:  # a teacher must see the student's features: every member on the shared log-mels
            member_params = [{k: v for k, v in extra.items() if k != "n_mels"} for extra in member_params]
    member_params = list(member_params)
    if len(member_params) != n_members or not all(isinstance(extra, dict) for extra in member_params):
        raise ValueError(f"member_params must be a list of n_members={n_members} dicts, got {member_params!r}.")

    def seed(i):
        return None if random_state is None else int(random_state) + i

    nets = [recommended_classifier(random_state=seed(i), **_override(params, extra))
            for i, extra in enumerate(member_params)]
    if n_members == 1 and not distill:
        return make_pipeline(nets[0])
    from sklearn.ensemble import VotingClassifier

    model = VotingClassifier([(f"net{i}", net) for i, net in enumerate(nets)], voting="soft")
    if distill:
        from .ensemble import DistilledClassifier

        student = recommended_classifier(random_state=seed(n_members), **_override(params, student_params or {}))
        model = DistilledClassifier(model, student, teacher_weight=teacher_weight)
    return make_pipeline(model)


#: The network of :func:`stateful_pipeline`: a TC-ResNet that streams with state
#: (``tcresnet_stream``: dilated, unpadded temporal convolutions, 1.5 x the channels, the
#: 2-D stem of the recommended network, which lifted clip accuracy on unseen speakers:
#: ``docs/streaming.md``, "Networks that stream with state").
STATEFUL_ARCH = ("tcresnet_stream", {"width": 1.5, "stem2d": 8})


def stateful_pipeline(*, epochs=120, background_noise=None, n_mels=40, random_state=None, **params):
    """One network that a spotter runs on each hop's new frames only: the recipe's training, per-frame features.

    :func:`recommended_classifier` with :data:`STATEFUL_ARCH` and a front end whose
    every frame depends on its own samples only: log-mels with ``center=False`` and
    ``top_db=None``, and no peak normalisation (the Gain augmentation stands in for
    it). Exported with ``streaming=True``, the file carries a step graph
    (:mod:`sklkws.export._stateful`) with which :class:`~sklkws.device.KeywordSpotter`
    computes, per hop, the front end of the hop's frames and the network on them
    alone, and gets the whole-window model's posteriors. It classifies clips less
    well than :func:`recommended_pipeline` and costs far less per second of stream
    (``docs/streaming.md``).

    Parameters
    ----------
    epochs : int, default=120
    background_noise : dict or list of 1-D arrays, default=None
        Recorded backgrounds for the augmentation.
    n_mels : int, default=40
    random_state : int, default=None
    **params
        Passed to :func:`recommended_classifier` (``arch_params`` merged over
        :data:`STATEFUL_ARCH`'s).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Raw 16 kHz clips in, labels out; one step, the network.

    Examples
    --------
    >>> pipe = stateful_pipeline(epochs=1)
    >>> clf = pipe[-1]
    >>> clf.arch, clf.normalizer, clf.frontend.center, clf.frontend.top_db
    ('tcresnet_stream', None, False, None)
    """
    arch, arch_params = STATEFUL_ARCH
    arch_params = {**arch_params, **(params.pop("arch_params", None) or {})}
    params = {"normalizer": None, "frontend": MelFeatures(kind="logmel", n_mels=n_mels, center=False, top_db=None),
              **params}
    return make_pipeline(recommended_classifier(arch=params.pop("arch", arch), arch_params=arch_params, epochs=epochs,
                                                background_noise=background_noise, random_state=random_state,
                                                **params))
