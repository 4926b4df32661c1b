"""Property-based tests: random shapes, dtypes, lengths, NaN/inf placements and amplitudes.

Every public transformer, sampler, the folder loader (on files written here) and the
keyword spotter (with a fake classifier) must either return finite output of the
documented shape or raise a ValueError whose message names the problem; no other
exception, no NaN, no silent garbage. Examples are few and small so the module runs in
well under two minutes on a CI core.
"""

import re
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sklkws.augment import AddNoise, AugmentChain, Gain, SpecAugment, SpeedPerturb, TimeShift, TimeStretch  # noqa: E402
from sklkws.device._audio import MAX_ABS_AMPLITUDE, AudioRangeWarning  # noqa: E402
from sklkws.features import GlobalStatFeatures, MelFeatures  # noqa: E402
from sklkws.preprocessing import Normalizer, PadOrCrop, Preemphasis, TrimSilence  # noqa: E402

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Words a ValueError's message must contain one of: it names the problem.
PROBLEM_WORDS = re.compile(
    r"NaN|infinity|peak|sample|clip|shape|feature|short|length|empty|mono|dtype|numeric|label|y |"
    r"frames|bins|n_fft|window|rate|duration",
    re.IGNORECASE,
)

DTYPES = [np.float32, np.float64, np.int16, np.int32, np.uint8, np.int8]
AMPLITUDES = [0.0, 1e-30, 1e-3, 1.0, 50.0, 1e4, 1e30]
LENGTHS = [1, 2, 7, 64, 401, 1601]


@st.composite
def audio_batches(draw, lengths=LENGTHS, max_clips=4):
    """(X, has_nonfinite, too_loud): a batch of any dtype, scale, with NaN/inf sprinkled in."""
    n = draw(st.integers(1, max_clips))
    length = draw(st.sampled_from(lengths))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    base = rng.uniform(-1, 1, size=(n, length))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        X = np.clip(np.round(base * (info.max / 2) + (info.max / 2 if dtype.kind == "u" else 0)),
                    info.min, info.max).astype(dtype)
        return X, False, False
    amplitude = draw(st.sampled_from(AMPLITUDES))
    X = (base * amplitude).astype(dtype)
    n_bad = draw(st.integers(0, 2)) if length else 0
    bad_values = [np.nan, np.inf, -np.inf]
    for _ in range(n_bad):
        X[rng.integers(n), rng.integers(length)] = bad_values[rng.integers(3)]
    finite = np.isfinite(X).all()
    too_loud = bool(finite and X.size and np.abs(X).max() > MAX_ABS_AMPLITUDE)
    return X, not finite, too_loud


def _call(func):
    """Run ``func``; return (result, None) or (None, ValueError); any other exception fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudioRangeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # must not matter: output is checked
        try:
            return func(), None
        except ValueError as exc:
            assert PROBLEM_WORDS.search(str(exc)), f"ValueError does not name the problem: {exc}"
            return None, exc


def _check_outcome(result, error, has_nonfinite, too_loud):
    if has_nonfinite or too_loud:
        assert error is not None, "non-finite or far out-of-range audio was accepted"
        return False
    if error is not None:
        return False
    return True


TRANSFORMERS = [
    Preemphasis(),
    Normalizer(),
    Normalizer(method="minmax"),
    Normalizer(method="rms"),
    TrimSilence(frame_length=4, hop_length=2),
    PadOrCrop(length=100),
    MelFeatures(n_fft=64, hop_length=32, n_mels=8),
    MelFeatures(kind="mfcc", n_fft=64, hop_length=32, n_mels=8, n_mfcc=4, flatten=True),
    MelFeatures(n_fft=64, hop_length=32, n_mels=8, center=False),
    GlobalStatFeatures(n_frames=2),
]


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=lambda t: repr(t))
@SETTINGS
@given(batch=audio_batches())
def test_transformers(transformer, batch):
    X, has_nonfinite, too_loud = batch
    out, error = _call(lambda: transformer.fit(X).transform(X))
    if not _check_outcome(out, error, has_nonfinite, too_loud):
        return
    out = np.asarray(out)
    assert out.shape[0] == X.shape[0]
    assert np.isfinite(out).all(), f"{transformer!r} gave non-finite output"
    assert out.dtype.kind == "f"
    if isinstance(transformer, MelFeatures) and not transformer.flatten:
        assert out.shape[1:] == (transformer.n_bins_, transformer.n_frames_)
    if isinstance(transformer, (Preemphasis, Normalizer)):
        assert out.shape == X.shape
    if isinstance(transformer, PadOrCrop):
        assert out.shape == (X.shape[0], transformer.length)


SAMPLERS = [
    AddNoise(random_state=0),
    AddNoise(noise="brown", snr_db=(-20.0, 60.0), random_state=0),
    Gain(random_state=0),
    TimeShift(random_state=0),
    TimeStretch(random_state=0),
    SpeedPerturb(random_state=0),
    AugmentChain([(AddNoise(noise="pink"), 0.5), TimeShift(), Gain()], random_state=0),
]


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: type(s).__name__)
@SETTINGS
@given(batch=audio_batches(lengths=[1, 7, 64, 1601]), labels=st.sampled_from(["str", "object", "int"]))
def test_samplers(sampler, batch, labels):
    X, has_nonfinite, too_loud = batch
    n = len(X)
    y = {"str": np.array(["yes", "no"] * n)[:n], "object": np.array(["yes", "no"] * n, dtype=object)[:n],
         "int": np.arange(n) % 2}[labels]
    res, error = _call(lambda: sampler.fit_resample(X, y))
    if _check_outcome(res, error, has_nonfinite, too_loud):
        X_res, y_res = res
        k = sampler.n_copies
        assert X_res.shape == (n * (1 + k), X.shape[1])
        assert np.isfinite(X_res).all(), f"{type(sampler).__name__}.fit_resample gave non-finite output"
        assert list(y_res) == list(y) * (1 + k)
    out, error = _call(lambda: sampler.augment(X, random_state=1))
    if _check_outcome(out, error, has_nonfinite, too_loud):
        assert out.shape == X.shape and out.dtype == np.float32
        assert np.isfinite(out).all(), f"{type(sampler).__name__}.augment gave non-finite output"


@SETTINGS
@given(n=st.integers(1, 4), bins=st.integers(1, 12), frames=st.integers(1, 40),
       scale=st.sampled_from([0.0, 1.0, 80.0, 1e6]), nan=st.booleans())
def test_spec_augment(n, bins, frames, scale, nan):
    rng = np.random.default_rng(n * bins * frames)
    F = (rng.normal(size=(n, bins, frames)) * scale).astype(np.float32)
    if nan:
        F[rng.integers(n), rng.integers(bins), rng.integers(frames)] = np.nan
    sampler = SpecAugment(random_state=0)
    out, error = _call(lambda: sampler.augment(F, random_state=0))
    if nan:
        assert error is not None
        return
    if error is None:
        assert out.shape == F.shape and np.isfinite(out).all()


# -- the folder loader, on files written here ------------------------------------------

@SETTINGS
@given(
    n_files=st.integers(1, 3),
    seconds=st.sampled_from([0.0, 0.01, 0.05, 0.2]),
    channels=st.sampled_from([1, 2]),
    rate=st.sampled_from([8000, 16000, 22050]),
    subtype=st.sampled_from(["PCM_16", "PCM_24", "PCM_32", "FLOAT"]),
    special=st.sampled_from([None, np.nan, np.inf, 1e30]),
)
def test_folder_loader(tmp_path_factory, n_files, seconds, channels, rate, subtype, special):
    import soundfile as sf

    from sklkws.datasets import load_audio_folder

    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(n_files)
    for i in range(n_files):
        label = root / ("yes" if i % 2 == 0 else "no")
        label.mkdir(exist_ok=True)
        x = rng.uniform(-0.5, 0.5, size=(int(seconds * rate), channels)).astype(np.float32)
        if special is not None and subtype == "FLOAT" and x.size:
            x[0, 0] = special
        sf.write(label / f"s{i}_nohash_0.wav", x, rate, subtype=subtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ClipLengthWarning and the like
        res, error = _call(lambda: load_audio_folder(root, sample_rate=16000, duration=0.1))
    if error is not None:
        return
    X, y = res[0], res[1]
    assert X.shape == (n_files, 1600)
    assert len(y) == n_files
    bad_floats = special is not None and subtype == "FLOAT" and seconds > 0
    if not bad_floats:
        assert np.isfinite(X).all()
    else:
        # A file holding NaN, infinity or 1e30 must not pass as audio.
        assert np.isfinite(X).all() and np.abs(X).max() <= MAX_ABS_AMPLITUDE, "bad samples loaded as audio"


# -- the keyword spotter, with a fake classifier -----------------------------------------

class _FakeClassifier:
    """Classes 'yes' / 'no' from the window's RMS: finite for finite input."""

    classes_ = np.array(["yes", "no", "_silence_"])
    n_features_in_ = 800
    sample_rate_ = 8000

    def predict_proba(self, X):
        X = np.asarray(X, dtype=np.float64)
        assert X.ndim == 2 and X.shape[1] == self.n_features_in_
        rms = np.sqrt(np.mean(X**2, axis=1))
        logits = np.stack([10 * rms, 10 * (0.3 - rms), np.zeros_like(rms)], axis=1)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)


@SETTINGS
@given(batch=audio_batches(lengths=[0, 1, 100, 799, 800, 4001], max_clips=1))
def test_spotter(batch):
    from sklkws.device import KeywordSpotter

    X, has_nonfinite, too_loud = batch
    audio = X[0]
    spotter = KeywordSpotter(_FakeClassifier(), hop=0.05, smoothing=0.1, threshold=0.4, refractory=0.2)
    events, error = _call(lambda: spotter.detect(audio))
    if not _check_outcome(events, error, has_nonfinite, too_loud):
        return
    duration = len(audio) / 8000
    for event in events:
        assert np.isfinite(event.score) and 0 <= event.score <= 1
        assert 0 <= event.time <= max(duration, 0.1) + 1e-9, (event, duration)
        assert event.keyword in ("yes", "no")
