"""Ready-made pipelines: the project's recommended keyword-spotting model in one call.

The demo, the benchmarks and the README build on these, so "the recommended model"
means one thing everywhere.
"""

from sklearn.pipeline import make_pipeline

from .augment import AddNoise, AugmentChain, Gain, SpecAugment, TimeShift
from .features import MelFeatures
from .preprocessing import Normalizer

__all__ = ["recommended_augmentation", "recommended_pipeline"]


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


def recommended_pipeline(
    *, width=3, epochs=40, background_noise=None, n_mels=40, bn_momentum=0.99, random_state=None,
    **classifier_params
):
    """Peak normalisation, then a BC-ResNet on log-mels with fresh augmentation every epoch.

    The log-mel front end sits inside the classifier (``frontend=``) so that the
    waveform augmentation is drawn anew on every batch, and SpecAugment masks the
    features. About 15 M multiply-accumulates per 1 s clip at ``width=3``.

    Parameters
    ----------
    width : int, default=3
        BC-ResNet width multiplier (compute grows about quadratically).
    epochs : int, default=40
    background_noise : dict or list of 1-D arrays, default=None
        Passed to :func:`recommended_augmentation`.
    n_mels : int, default=40
    bn_momentum : float, default=0.99
        BatchNorm moving-average momentum; use about 0.9 for small datasets (a few
        hundred clips), where 0.99 leaves the inference statistics unconverged.
    random_state : int, default=None
    **classifier_params
        Other :class:`~sklkws.models.KerasResNetClassifier` parameters.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Raw 16 kHz clips ``(n_clips, 16000)`` in, labels out.

    Examples
    --------
    >>> pipe = recommended_pipeline(width=1, epochs=1)
    >>> [name for name, _ in pipe.steps]
    ['normalizer', 'kerasresnetclassifier']
    """
    from .models import KerasResNetClassifier  # deferred: TensorFlow loads only when asked

    params = dict(
        frontend=MelFeatures(kind="logmel", n_mels=n_mels),
        augment=recommended_augmentation(background_noise),
        feature_augment=SpecAugment(n_freq_masks=2, freq_width=(0, 6), n_time_masks=2, time_width=(0, 15), fill="mean"),
        epochs=epochs,
        batch_size=64,
        learning_rate=1e-3,
        decay="cosine",
        decay_rate=0.01,
        label_smoothing=0.1,
        random_state=random_state,
    )
    params.update(classifier_params)
    return make_pipeline(Normalizer(method="peak"), KerasResNetClassifier("bcresnet", {"width": width, "bn_momentum": bn_momentum}, **params))
