"""Custom keywords: from a list of words (and a few recordings) to an exported spotter.

The path behind ``sklkws train --words ...`` and ``sklkws demo``:

1. :func:`make_custom_dataset`: synthetic eSpeak NG clips of each word (many voices,
   rates, pitches, rooms, microphones and noises; :func:`~sklkws.datasets.make_synthetic_commands`),
   ``_unknown_`` from other words (synthetic, and cuts of real keyword-free speech when
   given), ``_silence_`` from noise, plus any real recordings of the words.
2. :func:`small_spotter_pipeline`: peak normalisation, 40 log-mels and a TC-ResNet14
   without the 2-D stem (137 k parameters), trained with SpecAugment.
3. :func:`train_custom_spotter`: fits it and writes one int8 ``.tflite`` file with
   :func:`sklkws.export.export_compact` (budget check included), ready for
   ``sklkws listen`` and :class:`sklkws.device.KeywordSpotter`.
"""

from pathlib import Path

import numpy as np

from ._validation import check_int
from .datasets._labels import SILENCE, UNKNOWN

#: Keyword-free sentences said by the synthetic speakers: ``_unknown_`` speech and the
#: running talk of the demo's long recording. None of the Speech Commands words occurs.
FILLER_SENTENCES = (
    "the weather is quite nice this morning",
    "please pass me the cup of tea",
    "we walked along the river after lunch",
    "my brother bought a new bicycle last week",
    "the children are playing in the garden",
    "she reads the newspaper every evening",
    "put the books back on the shelf",
    "the train was late again today",
    "i think the soup needs more salt",
    "they painted the kitchen a pale blue",
    "the music was much too loud",
    "can you close the window please",
    "our neighbours have a small brown puppy",
    "the meeting starts at half past ten",
    "he forgot his umbrella at the office",
    "this apple tastes sweet and fresh",
)


def synthetic_sentences(n, *, max_seconds=6.0, sample_rate=16000, random_state=None):
    """Keyword-free running speech: ``n`` eSpeak NG sentences, each by a random synthetic speaker.

    Parameters
    ----------
    n : int
        Number of utterances (drawn from :data:`FILLER_SENTENCES`).
    max_seconds : float, default=6.0
        Longest utterance; longer ones are said faster.
    sample_rate : int, default=16000
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    sentences : list of ndarray of shape (n_samples_i,), dtype float32
        Peak-normalised to 0.5.

    Examples
    --------
    >>> waves = synthetic_sentences(2, random_state=0)
    >>> len(waves), waves[0].dtype, waves[0].shape[0] > 8000
    (2, dtype('float32'), True)
    """
    from sklearn.utils import check_random_state

    from .datasets._signals import check_voices as _check_voices, draw_speakers as _draw_speakers
    from .datasets._signals import utterances as _utterances

    n = check_int(n, "n", 1)
    rs = check_random_state(random_state)
    _, voice, pitch, pitch_range, rate = _draw_speakers(_check_voices(None), n, rs)
    text = np.array(FILLER_SENTENCES, dtype=object)[rs.randint(len(FILLER_SENTENCES), size=n)]
    requests = [(t, v, r, p, q) for t, v, r, p, q in zip(text, voice, rate, pitch, pitch_range)]
    waves = _utterances(requests, int(max_seconds * sample_rate), sample_rate)
    return [(w * np.float32(0.5 / max(float(np.abs(w).max(initial=0.0)), 1e-6))).astype(np.float32) for w in waves]


def _speech_windows(speech, n, n_samples, rng):
    """``n`` random one-clip cuts of keyword-free speech recordings (``_unknown_`` material)."""
    bed = np.concatenate([np.asarray(s, dtype=np.float32).ravel() for s in speech])
    if bed.size < n_samples:
        raise ValueError(f"speech holds {bed.size} samples, less than one clip ({n_samples}); give longer audio.")
    starts = rng.integers(0, bed.size - n_samples + 1, size=n)
    cuts = bed[starts[:, None] + np.arange(n_samples)]
    return cuts / np.maximum(np.abs(cuts).max(axis=1, keepdims=True), 1e-6) * 0.5


def _check_recordings(recordings, words, n_samples):
    """{word: list of 1-D clips} -> (X, y); each clip cut or zero-padded to ``n_samples``."""
    if recordings is None:
        return np.zeros((0, n_samples), np.float32), np.zeros(0, dtype=object)
    unknown = sorted(set(recordings) - set(words))
    if unknown:
        raise ValueError(f"recordings has word(s) {unknown} that are not in words {list(words)}.")
    X, y = [], []
    for word, clips in recordings.items():
        for clip in clips:
            clip = np.asarray(clip, dtype=np.float32).ravel()[:n_samples]
            if not clip.size or not np.isfinite(clip).all():
                raise ValueError(f"A recording of {word!r} is empty or holds NaN/infinity.")
            X.append(np.pad(clip, (0, n_samples - clip.size)))
            y.append(word)
    return np.array(X, dtype=np.float32).reshape(-1, n_samples), np.array(y, dtype=object)


def _noise_or_none(background_noise):
    """``background_noise``, or None for an empty collection (generated noise then)."""
    return background_noise if background_noise is None or len(background_noise) else None


def augment_recordings(X, y, n_copies=30, *, background_noise=None, random_state=None):
    """A few real recordings and ``n_copies`` augmented copies of each.

    Each copy is speed-perturbed (0.85-1.15: tempo and pitch, as another speaker
    might say it; with probability 0.8), then passed through
    :func:`~sklkws.recipes.recommended_augmentation` (noise, recorded backgrounds,
    shift, gain). With a handful of clips per word this raises a linear head on the
    speech embedding more than repeating the clips does (``docs/custom_words.md``).

    Parameters
    ----------
    X : ndarray of shape (n_clips, n_samples)
        The real clips (16 kHz).
    y : ndarray of shape (n_clips,)
    n_copies : int, default=30
        Augmented copies per clip; 0 returns the clips unchanged.
    background_noise : dict or list of 1-D arrays, default=None
        Recorded backgrounds (``load_background_noise``); generated noise only when None.
    random_state : int, default=None

    Returns
    -------
    X_out : ndarray of shape (n_clips * (1 + n_copies), n_samples), dtype float32
        The originals first, then copy ``c`` of clip ``i`` at row ``c * n_clips + i``.
    y_out : ndarray of shape (n_clips * (1 + n_copies),)

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(0, 0.1, (2, 16000)).astype(np.float32)
    >>> Xa, ya = augment_recordings(X, np.array(["yes", "no"]), n_copies=3, random_state=0)
    >>> Xa.shape, ya[:4].tolist()
    ((8, 16000), ['yes', 'no', 'yes', 'no'])
    """
    from .augment import AugmentChain, SpeedPerturb
    from .recipes import recommended_augmentation

    n_copies = check_int(n_copies, "n_copies", 0)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if n_copies == 0 or len(X) == 0:
        return X, y
    noise = _noise_or_none(background_noise)
    chain = AugmentChain([(SpeedPerturb((0.85, 1.15)), 0.8), *recommended_augmentation(noise).steps],
                         n_copies=n_copies, random_state=random_state)
    return chain.fit_resample(X, y)


def make_custom_dataset(words, *, n_per_word=120, recordings=None, speech=None, background_noise=None,
                        n_speech_unknown=None, recording_copies=0, random_state=None):
    """Training clips for your own keywords: synthetic words, other words, speech and noise.

    Parameters
    ----------
    words : sequence of str
        The keywords ("hey sheila", "lights on"...); each becomes a label.
    n_per_word : int, default=120
        Synthetic clips per keyword (eSpeak NG voices and variants, rate, pitch,
        rooms, band-limiting, noise); ``_unknown_`` gets twice as many from other
        words, ``_silence_`` as many from noise.
    recordings : dict of str to list of 1-D arrays, default=None
        Real 16 kHz recordings per keyword (a handful helps most: see
        ``docs/custom_words.md``); each is cut or zero-padded to 1 s.
    speech : list of 1-D arrays, default=None
        Real keyword-free speech at 16 kHz; random 1 s cuts of it join ``_unknown_``.
    background_noise : dict or list of 1-D arrays, default=None
        Recorded backgrounds for the synthetic clips' noise (``load_background_noise``);
        None: white, pink and brown noise.
    n_speech_unknown : int, default=None
        Cuts of ``speech``; None: ``n_per_word``.
    recording_copies : int, default=0
        Augmented copies of each recording (:func:`augment_recordings`), labelled
        and grouped as the recording.
    random_state : int, default=None

    Returns
    -------
    X : ndarray of shape (n_clips, 16000), dtype float32
    y : ndarray of shape (n_clips,), dtype object
        The keywords, ``"_unknown_"`` and ``"_silence_"``.
    groups : ndarray of shape (n_clips,), dtype object
        Speakers: the synthetic ones, ``"recorded"`` and ``"speech"`` for real audio.

    Examples
    --------
    >>> X, y, groups = make_custom_dataset(["hey sheila"], n_per_word=10, random_state=0)
    >>> X.shape, sorted(set(y))
    ((40, 16000), ['_silence_', '_unknown_', 'hey sheila'])
    """
    from .datasets import make_synthetic_commands

    n_per_word = check_int(n_per_word, "n_per_word", 1)
    noise = _noise_or_none(background_noise)
    X, y, groups = make_synthetic_commands(words, n_per_word, noise=noise, random_state=random_state)
    words = tuple(w for w in np.unique(y) if w not in (SILENCE, UNKNOWN))
    n_samples = X.shape[1]
    X_rec, y_rec = _check_recordings(recordings, words, n_samples)
    X_rec, y_rec = augment_recordings(X_rec, y_rec, recording_copies, background_noise=noise,
                                      random_state=random_state)
    parts = [(X, y, groups), (X_rec, y_rec, np.full(len(y_rec), "recorded", dtype=object))]
    if speech is not None and len(speech):
        n_cuts = n_per_word if n_speech_unknown is None else check_int(n_speech_unknown, "n_speech_unknown", 0)
        rng = np.random.default_rng(random_state)
        cuts = _speech_windows(speech, n_cuts, n_samples, rng)
        parts.append((cuts.astype(np.float32), np.full(n_cuts, UNKNOWN, dtype=object),
                      np.full(n_cuts, "speech", dtype=object)))
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))


def small_spotter_pipeline(*, epochs=12, width=1.0, n_mels=40, spec_augment=True, random_state=None, verbose=0):
    """The custom-keyword network: peak normalisation, log-mels, TC-ResNet14 (no 2-D stem), SpecAugment.

    The log-mels are computed once, as a pipeline step, rather than per batch inside
    the network (the recipe's waveform augmentation): the synthetic clips already
    carry the variety (voices, rooms, microphones, noise), and it trains several
    times faster, which is what lets ``sklkws demo`` cross-validate on 2 cores.

    Parameters
    ----------
    epochs : int, default=12
    width : float, default=1.0
        TC-ResNet width multiplier (1.0: 137 k parameters, a 208 KB int8 file).
    n_mels : int, default=40
    spec_augment : bool, default=True
        Mask random mel bands and frames of every training batch
        (:class:`~sklkws.augment.SpecAugment`). It helps the transfer from synthetic
        to real voices but slows convergence: a short run on synthetic clips
        only (``sklkws demo``) scores higher without it.
    random_state : int, default=None
    verbose : int, default=0
        Keras' training output.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Raw 16 kHz clips ``(n_clips, 16000)`` in, labels out; exportable with
        :func:`sklkws.export.export_compact`.

    Examples
    --------
    >>> pipe = small_spotter_pipeline(epochs=1)
    >>> [name for name, _ in pipe.steps]
    ['normalizer', 'melfeatures', 'kerasresnetclassifier']
    """
    from sklearn.pipeline import make_pipeline

    from .augment import SpecAugment
    from .features import MelFeatures
    from .models import KerasResNetClassifier
    from .preprocessing import Normalizer

    network = KerasResNetClassifier(
        "tcresnet", {"width": width, "stem2d": 0, "bn_momentum": 0.9}, epochs=epochs, batch_size=64,
        learning_rate=3e-3, decay="cosine", decay_rate=0.01, label_smoothing=0.1,
        feature_augment=SpecAugment(n_freq_masks=2, freq_width=(0, 6), n_time_masks=2, time_width=(0, 15),
                                    fill="mean") if spec_augment else None,
        verbose=verbose, random_state=random_state,
    )
    return make_pipeline(Normalizer(method="peak"), MelFeatures(kind="logmel", n_mels=n_mels), network)


def embedding_spotter_pipeline(*, head="mlp", C=0.1, hidden_units=256, alpha=1e-2, pad=0.3, num_threads=1,
                               random_state=0):
    """The custom-keyword model on a pretrained front end: speech_embedding, then a small head.

    :class:`~sklkws.frontend.SpeechEmbedding` (96 values per 80 ms, trained by Google on
    a large keyword corpus) followed by standardisation and a multinomial logistic
    regression (``head="linear"``) or one hidden ReLU layer (``head="mlp"``,
    :class:`~sklearn.neural_network.MLPClassifier`, the more accurate of the two on
    real speakers: ``docs/custom_words.md``). Nothing of the embedding is trained,
    so the head learns from synthetic speech alone or a few real clips what a network
    from scratch cannot (``docs/custom_words.md`` compares them on the same folds).

    Parameters
    ----------
    head : {"mlp", "linear"}, default="mlp"
        The classifier on the standardised embeddings. Both run on the device with
        numpy (:class:`~sklkws.device.EmbeddingClassifier`); the MLP adds about
        1.1 MB of float32 weights to the 2.4 MB model.
    C : float, default=0.1
        Inverse L2 strength of the linear head
        (:class:`~sklearn.linear_model.LogisticRegression`).
    hidden_units : int, default=256
        Width of the MLP head's hidden layer.
    alpha : float, default=1e-2
        L2 strength of the MLP head.
    pad : float, default=0.3
        Seconds of zeros on each side of a clip before embedding.
    num_threads : int, default=1
        onnxruntime threads.
    random_state : int, RandomState instance or None, default=0
        The MLP head's initial weights and batches.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Raw 16 kHz clips in, labels out. Not exportable to one ``.tflite`` file: the
        embedding runs with onnxruntime (see ``docs/custom_words.md``).

    See Also
    --------
    sklkws.ensemble.TTAClassifier : wrapped around this pipeline with ``n_crops=1`` and
        ``shifts``, averages the head's probabilities over shifted copies of each clip;
        worth doing where whole clips are classified (``docs/custom_words.md``), not in a
        spotter, whose sliding windows already shift.

    Examples
    --------
    >>> [name for name, _ in embedding_spotter_pipeline().steps]
    ['speechembedding', 'standardscaler', 'mlpclassifier']
    >>> embedding_spotter_pipeline(head="linear")[-1].C
    0.1
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .frontend import SpeechEmbedding

    if head == "linear":
        classifier = LogisticRegression(C=C, max_iter=2000)
    elif head == "mlp":
        classifier = MLPClassifier(hidden_layer_sizes=(int(hidden_units),), alpha=alpha, max_iter=300,
                                   random_state=random_state)
    else:
        raise ValueError(f"head must be 'linear' or 'mlp', got {head!r}.")
    return make_pipeline(SpeechEmbedding(pad=pad, num_threads=num_threads), StandardScaler(), classifier)


def _read_recordings(folder, words):
    """{word: [clips]} from ``folder/<word>/*.wav|flac`` (folder names: the word, spaces or underscores)."""
    from .datasets import load_audio_folder

    X, y, _ = load_audio_folder(folder, sample_rate=16000)  # any rate resampled; lengths fixed later
    by_name = {w.replace(" ", "_"): w for w in words} | {w: w for w in words}
    names = sorted(set(map(str, y)) - set(by_name))
    if names:
        raise ValueError(f"{folder} has folder(s) {names} that match no word of {list(words)}; "
                         "name each folder after its word (spaces may be underscores).")
    out = {}
    for clip, label in zip(X, y):
        out.setdefault(by_name[str(label)], []).append(clip)
    return out


def train_custom_spotter(words, out, *, n_per_word=120, recordings=None, speech=None, background_noise=None,
                         epochs=12, budget="pi", random_state=0, verbose=True, frontend="scratch",
                         recording_copies=None, head="mlp"):
    """Train a spotter for ``words`` and export it for the device.

    Parameters
    ----------
    words : sequence of str
    out : str or path-like
        ``frontend="scratch"``: the int8 ``.tflite`` file (its description goes to
        ``<out>.json``); ``"embedding"``: the joblib file of the
        :class:`~sklkws.device.EmbeddingClassifier`.
    n_per_word, recordings, speech, background_noise
        See :func:`make_custom_dataset`.
    epochs : int, default=12
    budget : {"pi", "micro"}, default="pi"
        The limits checked at export (:func:`sklkws.export.export_compact`).
    random_state : int, default=0
    verbose : bool, default=True
        Print what happens, step by step.
    frontend : {"scratch", "embedding"}, default="scratch"
        ``"scratch"``: :func:`small_spotter_pipeline` (log-mels, a TC-ResNet trained
        here; one LiteRT file). ``"embedding"``: :func:`embedding_spotter_pipeline`
        (the pretrained speech_embedding and a small head: much more accurate from
        synthetic speech or few recordings, see ``docs/custom_words.md``; on the
        device it needs onnxruntime, ``pip install "sklkws[device-embedding]"``).
    recording_copies : int, default=None
        Augmented copies of each recording (:func:`augment_recordings`). None: 30
        with the embedding front end (measured there, ``docs/custom_words.md``), 0
        with ``"scratch"``, whose training augments every batch already.
    head : {"mlp", "linear"}, default="mlp"
        With the embedding front end, its head (:func:`embedding_spotter_pipeline`).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline.
    report : dict
        The export's report (``report["passed"]``: the budget is met); for the
        embedding front end, ``passed`` (size under the budget) and ``size_bytes``.

    Examples
    --------
    >>> pipe, report = train_custom_spotter(["hey sheila"], "kws.tflite")  # doctest: +SKIP
    """
    from .export import export_compact

    if frontend not in ("scratch", "embedding"):
        raise ValueError(f"frontend must be 'scratch' or 'embedding', got {frontend!r}.")
    say = print if verbose else (lambda *a, **k: None)
    if recording_copies is None:
        recording_copies = 30 if frontend == "embedding" else 0
    X, y, groups = make_custom_dataset(words, n_per_word=n_per_word, recordings=recordings, speech=speech,
                                       background_noise=background_noise, recording_copies=recording_copies,
                                       random_state=random_state)
    counts = {label: int(n) for label, n in zip(*np.unique(y, return_counts=True))}
    n_recorded = int(np.sum(groups == "recorded"))
    say(f"training clips: {len(X)} ({counts}); {n_recorded // (1 + recording_copies)} real recordings"
        + (f" and {n_recorded - n_recorded // (1 + recording_copies)} augmented copies of them"
           if recording_copies and n_recorded else ""))
    if frontend == "embedding":
        return _train_embedding_spotter(X, y, out, budget, say, head, random_state)
    pipeline = small_spotter_pipeline(epochs=epochs, random_state=random_state).fit(X, y)
    rng = np.random.default_rng(random_state)
    calibration = X[rng.choice(len(X), min(len(X), 300), replace=False)]
    report = export_compact(pipeline, out, "int8", calibration, check=False, verbose=False, budget=budget,
                            n_runs=20)
    say(f"wrote {out} ({Path(out).stat().st_size / 1000:.0f} KB, int8); budget {budget!r}: "
        f"{'met' if report['passed'] else 'NOT met: ' + '; '.join(report['failures'])}")
    return pipeline, report


def _train_embedding_spotter(X, y, out, budget, say, head, random_state):
    import joblib

    from .device import BUDGETS
    from .export import to_embedding_classifier

    pipeline = embedding_spotter_pipeline(head=head, random_state=random_state).fit(X, y)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")  # written whole, then renamed: no half file on a crash
    joblib.dump(to_embedding_classifier(pipeline), partial)
    partial.replace(out)
    size = out.stat().st_size
    limit = BUDGETS[budget]["max_size_bytes"]
    met = size <= limit if BUDGETS[budget].get("inclusive") else size < limit
    say(f"wrote {out} ({size / 1000:.0f} KB: the speech_embedding model and a{'n MLP' if head == 'mlp' else ' linear'} "
        f"head; loads with numpy, "
        f"joblib and onnxruntime); budget {budget!r} size: {'met' if met else 'NOT met'}")
    return pipeline, {"passed": met, "size_bytes": size}


def train_main(args):
    """``sklkws train``: words (and optional recordings/speech folders) in, a checked .tflite out."""
    words = [w.strip() for w in args.words if w.strip()]
    if not words:
        raise ValueError("--words needs at least one keyword, e.g. --words \"hey sheila\" \"lights on\".")
    recordings = _read_recordings(args.recordings, words) if args.recordings else None
    speech = None
    if args.speech:
        from .streaming import load_negative_audio

        speech = load_negative_audio(args.speech)
    noise = None
    if args.noise:
        from .datasets import load_background_noise

        noise = load_background_noise(args.noise)
    train_custom_spotter(words, args.out, n_per_word=args.n_per_word, recordings=recordings, speech=speech,
                         background_noise=noise, epochs=args.epochs, budget=args.budget,
                         random_state=args.random_state, frontend=args.frontend,
                         recording_copies=args.recording_copies, head=args.head)
    print(f"next: sklkws listen {args.out} recording.wav   (or --mic)")
    return 0
