"""Synthetic multi-label audio tagging: several words and noise bursts mixed into one clip.

The tagging counterpart of :func:`make_synthetic_commands`, shaped like the
Freesound Audio Tagging 2019 task the tagging seed solved: clips of a few
seconds and of different lengths, each holding one or more sound events at
random times and levels; the labels are the events that were mixed in. Words
come from eSpeak NG (same synthetic speakers as the keyword data), noise events
are white, pink or brown noise bursts. It exists so that every tagging technique
(crops, TTA, two-branch features, mixup, stacking) can be tested and benchmarked
without downloading anything.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._validation import batch_slices, check_int
from ._labels import COMMAND_WORDS
from ._signals import check_voices, colored_noise, draw_speakers, utterance_prosody, utterances

#: Noise-event labels and the colour of noise each one mixes in.
NOISE_TAGS = {"white_noise": "white", "pink_noise": "pink", "brown_noise": "brown"}
#: Default label set: the ten command words and the three noise colours (13 labels).
DEFAULT_TAGGING_LABELS = tuple(COMMAND_WORDS) + tuple(NOISE_TAGS)
_FADE_S = 0.01  # raised-cosine fade of noise bursts, so they start and end without clicks


def _check_pair(value, name, *, positive=True):
    """A number or a (low, high) pair of finite numbers -> (low, high) floats."""
    pair = (value, value) if isinstance(value, numbers.Real) else value
    try:
        low, high = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a (low, high) pair, got {value!r}.") from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high) or (positive and low <= 0):
        kind = "positive " if positive else ""
        raise ValueError(f"{name} must be a finite {kind}(low, high) pair with low <= high, got {value!r}.")
    return low, high


def _check_labels(labels):
    if isinstance(labels, str):
        labels = (labels,)
    try:
        labels = tuple(labels)
    except TypeError:
        raise ValueError(f"labels must be a list of words and noise tags, got {labels!r}.") from None
    if not labels:
        raise ValueError("labels is empty; give at least one word or noise tag.")
    bad = [x for x in labels if not isinstance(x, str) or not x.strip()]
    if bad:
        raise ValueError(f"labels must hold non-empty strings; got {bad[0]!r}.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels has duplicates: {sorted({x for x in labels if labels.count(x) > 1})}.")
    return labels


def _fade(n, fade):
    """Envelope of length ``n`` rising and falling over ``fade`` samples (raised cosine)."""
    env = np.ones(n)
    k = min(fade, n // 2)
    if k:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
        env[:k], env[n - k :] = ramp, ramp[::-1]
    return env


def make_synthetic_tagging(
    n_clips=100,
    *,
    labels=DEFAULT_TAGGING_LABELS,
    duration=(2.0, 4.0),
    min_labels=1,
    max_labels=3,
    level_db=(-35.0, -15.0),
    burst_duration=(0.3, 1.0),
    background_db=-70.0,
    voices=None,
    n_speakers=None,
    sample_rate=16000,
    random_state=None,
    return_events=False,
):
    """Make multi-label tagging clips by mixing synthetic words and noise bursts.

    Every clip gets a random length in ``duration`` and between ``min_labels`` and
    ``max_labels`` different labels, each mixed in once at a random offset (fully
    inside the clip) and at a random RMS level in ``level_db``. A label is either a
    word, said by a random synthetic speaker (eSpeak NG voice, pitch and rate, as
    in :func:`make_synthetic_commands`), or a noise tag from :data:`NOISE_TAGS`
    (``"white_noise"``, ``"pink_noise"``, ``"brown_noise"``): a burst of that noise
    colour lasting ``burst_duration`` seconds with 10 ms fades. A faint white noise
    floor at ``background_db`` (not a label) covers each clip; what lies past a
    clip's length is exact zeros, the padding. Clips that would pass full scale are
    scaled down, not clipped.

    Parameters
    ----------
    n_clips : int, default=100
    labels : sequence of str, default=DEFAULT_TAGGING_LABELS
        The label vocabulary, in the order of ``Y``'s columns: words to synthesise
        and noise tags. The default is the ten command words plus the three noise
        tags.
    duration : float or (float, float), default=(2.0, 4.0)
        Clip length range in seconds, drawn uniformly per clip.
    min_labels, max_labels : int, default=1, 3
        Number of different labels per clip, drawn uniformly in this range.
    level_db : float or (float, float), default=(-35.0, -15.0)
        RMS level of each event in dB full scale (a word's RMS over its voiced part).
    burst_duration : float or (float, float), default=(0.3, 1.0)
        Length of noise bursts in seconds (capped at the clip length).
    background_db : float or None, default=-70.0
        RMS of the unlabelled white noise floor in dB full scale; None for none.
    voices : sequence of str, default=None
        eSpeak voices for the words, as in :func:`make_synthetic_commands` (None:
        8 English accents x 53 variants).
    n_speakers : int, default=None
        Size of the speaker pool; None means one per 10 word events (at least 10).
    sample_rate : int, default=16000
    random_state : int, RandomState instance or None, default=None
        Seeds every draw; the same seed gives identical arrays.
    return_events : bool, default=False
        Also return a dict of per-event arrays: ``"clip"`` (row of ``X``),
        ``"label"`` (column of ``Y``), ``"onset"`` and ``"length"`` (in samples) and
        ``"level_db"``.

    Returns
    -------
    X : ndarray of shape (n_clips, max_length), dtype float32
        The clips, zero-padded at the end to the longest one, in [-1, 1].
    Y : ndarray of shape (n_clips, n_labels), dtype int
        Indicator matrix: ``Y[i, j] == 1`` when label ``j`` was mixed into clip ``i``.
    lengths : ndarray of shape (n_clips,), dtype int
        Each clip's length in samples before padding; ``X[i, lengths[i]:]`` is zero.
    label_names : ndarray of shape (n_labels,), dtype str
        The labels, in column order.
    events : dict of ndarray
        Only when ``return_events`` is true.

    Raises
    ------
    ValueError
        If ``labels`` is empty or holds duplicates or empty strings, a count or
        range is invalid, ``max_labels`` exceeds the number of labels, or a voice
        is unknown.

    See Also
    --------
    make_synthetic_commands : one-word keyword clips.
    sklkws.preprocessing.pad_clips : pad clips of different lengths (done here already).

    Examples
    --------
    >>> from sklkws.datasets import make_synthetic_tagging
    >>> X, Y, lengths, names = make_synthetic_tagging(8, duration=(1.0, 2.0), random_state=0)
    >>> X.shape[0], Y.shape, str(names[-1])
    (8, (8, 13), 'brown_noise')
    >>> bool((Y.sum(axis=1) >= 1).all() and (Y.sum(axis=1) <= 3).all())
    True
    >>> bool((X[0, lengths[0]:] == 0).all())
    True
    """
    n_clips = check_int(n_clips, "n_clips", 1)
    labels = _check_labels(labels)
    min_labels = check_int(min_labels, "min_labels", 1)
    max_labels = check_int(max_labels, "max_labels", min_labels)
    if max_labels > len(labels):
        raise ValueError(f"max_labels={max_labels} exceeds the number of labels ({len(labels)}).")
    duration = _check_pair(duration, "duration")
    level_db = _check_pair(level_db, "level_db", positive=False)
    burst_duration = _check_pair(burst_duration, "burst_duration")
    if background_db is not None:
        background_db = _check_pair(background_db, "background_db", positive=False)[0]
    sample_rate = check_int(sample_rate, "sample_rate", 1000, unit=" Hz")
    is_noise = np.array([x in NOISE_TAGS for x in labels])
    rs = check_random_state(random_state)

    # Every draw happens before synthesis, so the arrays depend on the seed only.
    lengths = np.maximum(1, np.rint(rs.uniform(*duration, size=n_clips) * sample_rate)).astype(np.int64)
    n_labels = rs.randint(min_labels, max_labels + 1, size=n_clips)
    ranked = np.argsort(rs.random_sample((n_clips, len(labels))), axis=1)  # a random order per clip
    take = np.arange(len(labels))[None, :] < n_labels[:, None]
    clip, label = np.nonzero(take)
    label = ranked[clip, label]
    n_events = clip.size
    level = rs.uniform(*level_db, size=n_events)
    position = rs.uniform(size=n_events)
    burst = np.minimum(np.rint(rs.uniform(*burst_duration, size=n_events) * sample_rate).astype(np.int64),
                       lengths[clip])
    words = np.flatnonzero(~is_noise[label])
    if words.size:
        voices = check_voices(voices)
        n_speakers = max(10, round(words.size / 10)) if n_speakers is None else n_speakers
        n_speakers = check_int(n_speakers, "n_speakers", 1)
        _, spk_voice, spk_pitch, spk_range, spk_rate = draw_speakers(voices, n_speakers, rs)
        speaker = rs.randint(len(spk_voice), size=words.size)
        rate, pitch = utterance_prosody(spk_rate, spk_pitch, speaker, rs)

    X = np.zeros((n_clips, int(lengths.max())), dtype=np.float32)
    onset = np.zeros(n_events, dtype=np.int64)
    size = burst.copy()
    gain = 10.0 ** (level / 20.0)
    requests = [(labels[label[e]], spk_voice[speaker[k]], int(rate[k]), int(pitch[k]),
                 int(np.rint(spk_range[speaker[k]]))) for k, e in enumerate(words)]
    waves = utterances(requests, lengths[clip[words]], sample_rate) if words.size else []  # one eSpeak process
    for e, wave in zip(words, waves):
        size[e] = wave.size
        if wave.size == 0:
            continue
        rms = np.sqrt(np.mean(np.square(wave, dtype=np.float64)))
        onset[e] = int(position[e] * (lengths[clip[e]] - wave.size + 1))
        X[clip[e], onset[e] : onset[e] + wave.size] += wave * np.float32(gain[e] / max(rms, 1e-8))

    noises = np.flatnonzero(is_noise[label])
    colors = np.array([NOISE_TAGS[x] if x in NOISE_TAGS else "" for x in labels])
    fade = max(1, int(_FADE_S * sample_rate))
    for batch in batch_slices(noises.size, 256):  # unit-RMS noise made a batch of bursts at a time
        rows = noises[batch]
        unit = colored_noise(colors[label[rows]], int(burst[rows].max()), rs)
        for e, noise in zip(rows, unit):
            n = int(burst[e])
            onset[e] = int(position[e] * (lengths[clip[e]] - n + 1))
            X[clip[e], onset[e] : onset[e] + n] += (noise[:n] * _fade(n, fade) * gain[e]).astype(np.float32)

    if background_db is not None:
        floor = 10.0 ** (background_db / 20.0)
        inside = np.arange(X.shape[1])[None, :] < lengths[:, None]
        for batch in batch_slices(n_clips, 256):
            X[batch] += np.where(inside[batch], rs.standard_normal(X[batch].shape) * floor, 0.0).astype(np.float32)
    X /= np.maximum(np.abs(X).max(axis=1, keepdims=True), 1.0)

    Y = np.zeros((n_clips, len(labels)), dtype=int)
    Y[clip, label] = 1
    out = (X, Y, lengths, np.array(labels, dtype=str))
    if not return_events:
        return out
    events = {"clip": clip, "label": label, "onset": onset, "length": size, "level_db": level}
    return (*out, events)
