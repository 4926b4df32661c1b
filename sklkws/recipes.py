"""Ready-made pipelines: the project's recommended keyword-spotting model in one call.

The demo, the benchmarks and the README build on these, so "the recommended model"
means one thing everywhere.
"""

from sklearn.pipeline import make_pipeline

from .augment import AddNoise, AugmentChain, Gain, SpecAugment, TimeShift
from .features import MelFeatures
from .preprocessing import Normalizer

__all__ = ["RECOMMENDED_ARCH", "recommended_augmentation", "recommended_pipeline"]


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


#: The recommended network: a res8-style dilated 2-D ResNet with 38 maps on 40 x 101
#: log-mels (79 k parameters, 27.9 M MACs per 1 s clip). BC-ResNet (``"bcresnet"``,
#: ``{"width": 3}``, 14.5 M MACs) scored about the same in ``benchmarks/speech_commands.py``
#: but trains about ten times slower per MAC on CPU.
RECOMMENDED_ARCH = ("res2d", {"filters": 38})


def recommended_pipeline(
    *, arch=None, arch_params=None, epochs=80, background_noise=None, n_mels=40, bn_momentum=0.99,
    random_state=None, **classifier_params
):
    """Peak normalisation, then a small 2-D ResNet on log-mels with fresh augmentation every epoch.

    The log-mel front end sits inside the classifier (``frontend=``) so that the
    waveform augmentation is drawn anew on every batch, and SpecAugment masks the
    features. The network is :data:`RECOMMENDED_ARCH` unless ``arch`` is given (about
    28 M multiply-accumulates per 1 s clip).

    Parameters
    ----------
    arch : str, default=None
        Architecture name in :data:`sklkws.models.ARCHITECTURES`; None for
        :data:`RECOMMENDED_ARCH`.
    arch_params : dict, default=None
        Its builder's parameters (the recommended ones when ``arch`` is None).
    epochs : int, default=80
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
    pipeline : sklearn.pipeline.Pipeline
        Raw 16 kHz clips ``(n_clips, 16000)`` in, labels out.

    Examples
    --------
    >>> pipe = recommended_pipeline(epochs=1)
    >>> [name for name, _ in pipe.steps]
    ['normalizer', 'kerasresnetclassifier']
    >>> pipe[-1].arch, pipe[-1].arch_params["filters"]
    ('res2d', 38)
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
    return make_pipeline(Normalizer(method="peak"), KerasResNetClassifier(arch, arch_params, **params))
