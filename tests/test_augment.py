"""Augmentation samplers: each test measures what a transform did to the audio."""

import numpy as np
import pytest
import scipy.signal
import sklearn
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline, make_pipeline
from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_consistent_length

from sklkws.augment import (
    AddNoise,
    AugmentChain,
    BaseAugmenter,
    Gain,
    SpecAugment,
    SpeedPerturb,
    TimeShift,
    TimeStretch,
    augmented_indices,
    coloured_noise,
    stretch_batch,
)

SR = 16000


def _recordings():
    rng = np.random.default_rng(7)
    return {"long": rng.normal(size=50).astype(np.float32), "short": np.array([0.5, -1.0, 0.25])}


SAMPLERS = [
    AddNoise(random_state=0),
    AddNoise("brown", snr_db=3.0, random_state=0),
    AddNoise(noise=_recordings(), random_state=0),
    TimeShift(random_state=0),
    TimeShift(shift_ms=(-0.5, 0.5), mode="roll", random_state=0),
    Gain(random_state=0),
    TimeStretch(random_state=0),
    SpeedPerturb(random_state=0),
    SpecAugment(random_state=0),
    AugmentChain([(AddNoise("pink"), 0.5), TimeShift(), (Gain(), 0.5), TimeStretch()], random_state=0),
]

IMBLEARN_EXPECTED = {
    "check_target_type": "augmentation keeps labels as they are, so multi-label indicator targets "
    "(audio tagging) are accepted on purpose instead of rejected",
    "check_samplers_one_label": "augmentation does not balance classes: augmenting a single class "
    "(e.g. only _silence_ clips) is a valid use",
}


@parametrize_with_checks(SAMPLERS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# imblearn's decorator parametrizes from a generator, which pytest deprecates: listed here.
_imblearn = imblearn_checks(SAMPLERS, expected_failed_checks=lambda est: IMBLEARN_EXPECTED)


@pytest.mark.parametrize(_imblearn.args[0], list(_imblearn.args[1]), **_imblearn.kwargs)
def test_imblearn_compatible(estimator, check):
    check(estimator)


# -- helpers -----------------------------------------------------------------------


def _tones(n, rng, L=SR):
    """Harmonic tones with random pitch and level: clips with a known, nonzero RMS."""
    t = np.arange(L) / SR
    f0 = rng.uniform(100, 400, size=(n, 1))
    x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6, size=(n, 1))) / k for k in (1, 2, 3))
    return (x * rng.uniform(0.05, 0.5, size=(n, 1))).astype(np.float32)


def _burst(start, dur, f0=220.0, L=SR):
    """A harmonic tone from ``start`` for ``dur`` seconds, silence elsewhere (10 ms ramps)."""
    t = np.arange(L) / SR
    env = np.clip(np.minimum(t - start, start + dur - t) / 0.01, 0, 1)
    tone = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 2 * f0 * t)
    return (0.5 * env * tone).astype(np.float32)


def _voiced_span(x, frame=160):
    """(start, end) in seconds of the frames within 20 dB of the loudest one."""
    rms = np.sqrt((x[: len(x) // frame * frame].reshape(-1, frame) ** 2).mean(1))
    on = np.nonzero(rms > rms.max() * 0.1)[0]
    return on[0] * frame / SR, (on[-1] + 1) * frame / SR


def _snr_db(clean, noisy):
    noise = noisy.astype(np.float64) - clean
    return 10 * np.log10((clean.astype(np.float64) ** 2).mean(1) / (noise**2).mean(1))


def _lag(a, b):
    """Lag (in samples) maximising the cross-correlation of b against a."""
    corr = scipy.signal.correlate(b, a, mode="full", method="fft")
    return int(np.argmax(corr)) - (len(a) - 1)


# -- noise -------------------------------------------------------------------------


@pytest.mark.parametrize("noise", ["white", "pink", "brown", "recorded"])
def test_noise_snr_exact_and_within_range(noise, rng):
    X = _tones(200, rng)
    recs = {"a": rng.normal(size=3 * SR), "b": np.sin(np.arange(SR // 2) * 0.3)}
    kind = recs if noise == "recorded" else noise
    snr = _snr_db(X, AddNoise(kind, snr_db=12.5).augment(X, random_state=1))
    np.testing.assert_allclose(snr, 12.5, atol=1e-3)
    snr = _snr_db(X, AddNoise(kind, snr_db=(0, 20)).augment(X, random_state=1))
    assert snr.min() >= -1e-3 and snr.max() <= 20 + 1e-3
    assert snr.min() < 3 and snr.max() > 17  # the whole range is drawn, not one value


@pytest.mark.parametrize("colour, slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_coloured_noise_spectral_slope(colour, slope):
    noise = coloured_noise(1 << 18, colour, np.random.default_rng(0))
    freqs, power = scipy.signal.welch(noise, fs=SR, nperseg=4096)
    band = (freqs > 100) & (freqs < 6000)
    fitted = np.polyfit(np.log10(freqs[band]), np.log10(power[band]), 1)[0]
    assert abs(fitted - slope) < 0.1
    assert noise.dtype == np.float32 and abs(noise.std() - 1) < 1e-3


def test_noise_segments_come_from_the_recordings(rng):
    recs = [rng.normal(size=2 * SR).astype(np.float32), rng.normal(size=SR // 4).astype(np.float32)]
    X = _tones(40, rng)
    added = AddNoise(recs, snr_db=0.0).augment(X, random_state=3) - X
    # Each clip's added noise is a scaled contiguous segment of one recording
    # (the short one repeated to a clip's length).
    banks = [recs[0], np.resize(recs[1], SR)]
    used = set()
    for a in added:
        best = []
        for i, bank in enumerate(banks):
            corr = scipy.signal.correlate(bank, a, mode="valid", method="fft")
            off = int(np.argmax(np.abs(corr)))
            seg = bank[off:off + SR]
            best.append((abs(np.corrcoef(seg, a)[0, 1]), i))
        score, which = max(best)
        assert score > 0.9999
        used.add(which)
    assert used == {0, 1}


def test_silent_clips_and_silent_noise_give_no_nan():
    X = np.zeros((3, 1000), dtype=np.float32)
    X[1, 10] = 0.5
    out = AddNoise("white", snr_db=0.0).augment(X, random_state=0)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[[0, 2]], 0.0)  # no level to be relative to
    assert np.abs(out[1] - X[1]).max() > 0
    silent_rec = AddNoise([np.zeros(5000)], snr_db=0.0).augment(X, random_state=0)
    np.testing.assert_array_equal(silent_rec, X)


# -- shift and gain ----------------------------------------------------------------


def test_shift_equals_cross_correlation_lag(rng):
    X = rng.normal(size=(30, 4000)).astype(np.float32)
    out = TimeShift(shift_ms=(-100, 100)).augment(X, random_state=2)
    lags = np.array([_lag(x, y) for x, y in zip(X, out)])
    assert np.abs(lags).max() <= 1600 and len(np.unique(lags)) > 20
    for x, y, s in zip(X, out, lags):
        expected = np.zeros_like(x)
        if s >= 0:
            expected[s:] = x[: len(x) - s]
        else:
            expected[:s] = x[-s:]
        np.testing.assert_array_equal(y, expected)  # a pure shift, gap filled with zeros


def test_roll_shift_wraps_around(rng):
    X = rng.normal(size=(20, 3000)).astype(np.float32)
    out = TimeShift(shift_ms=(-50, 50), mode="roll").augment(X, random_state=5)
    for x, y in zip(X, out):
        s = _lag(x, y)
        np.testing.assert_array_equal(y, np.roll(x, s))
    fixed = TimeShift(shift_ms=25.0, mode="roll").augment(X, random_state=0)
    np.testing.assert_array_equal(fixed, np.roll(X, 400, axis=1))


def test_gain_matches_db(rng):
    X = _tones(100, rng)
    out = Gain(gain_db=(-12, 12)).augment(X, random_state=0)
    db = 20 * np.log10(np.linalg.norm(out, axis=1) / np.linalg.norm(X, axis=1))
    assert db.min() >= -12 - 1e-4 and db.max() <= 12 + 1e-4 and np.ptp(db) > 18
    np.testing.assert_allclose(out / X, (out / X)[:, :1].repeat(SR, 1), rtol=1e-5)  # one factor per clip
    fixed = Gain(gain_db=-6.0).augment(X, random_state=0)
    np.testing.assert_allclose(fixed, X * 10 ** (-6 / 20), rtol=1e-6)


# -- time stretch ------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_stretch_changes_voiced_duration_by_rate_and_keeps_pitch(rate):
    x = _burst(start=0.2, dur=0.4)[None]
    y = TimeStretch(rate=rate).augment(x, random_state=0)[0]
    (s0, e0), (s1, e1) = _voiced_span(x[0]), _voiced_span(y)
    assert abs((e1 - s1) - (e0 - s0) / rate) < 0.021  # within two 10 ms frames
    assert abs(s1 - s0 / rate) < 0.021
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) - 220) <= 2  # 1 Hz bins: the pitch stays at 220 Hz


def test_stretch_batch_matches_librosa_per_clip_rates(rng):
    librosa = pytest.importorskip("librosa")
    X = np.concatenate([_tones(2, rng, L=8000), rng.normal(0, 0.1, (2, 8000)).astype(np.float32)])
    rates = np.array([0.8, 1.25, 0.9, 1.1])
    Y = stretch_batch(X, rates, n_fft=512, hop_length=128)
    for x, y, r in zip(X, Y, rates):
        ref = librosa.effects.time_stretch(x, rate=r, n_fft=512, hop_length=128)[:8000]
        ref = np.pad(ref, (0, 8000 - len(ref)))
        assert np.abs(y - ref).max() < 5e-3 * np.abs(ref).max()


def test_stretch_random_rates_stay_in_range():
    X = np.repeat(_burst(start=0.1, dur=0.5)[None], 12, axis=0)
    Y = TimeStretch(rate=(0.8, 1.25)).augment(X, random_state=4)
    ratio = np.array([np.diff(_voiced_span(y))[0] for y in Y]) / 0.5
    assert ratio.min() > 0.8 - 0.04 and ratio.max() < 1.25 + 0.04
    assert np.ptp(ratio) > 0.15


# -- speed perturbation ------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.9, 1.15])
def test_speed_scales_pitch_and_duration_together(rate):
    x = _burst(start=0.3, dur=0.4)[None]
    y = SpeedPerturb(rate=rate).augment(x, random_state=0)[0]
    (s0, e0), (s1, e1) = _voiced_span(x[0]), _voiced_span(y)
    assert abs((e1 - s1) - (e0 - s0) / rate) < 0.021  # duration / rate, within two frames
    assert abs((s1 + e1) / 2 - 0.5 - ((s0 + e0) / 2 - 0.5) / rate) < 0.021  # about the centre
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) - 220 * rate) <= 2  # 1 Hz bins: the pitch moves with the speed


def test_speed_matches_scipy_resampling_and_draws_the_grid(rng):
    X = _tones(40, rng)
    Y = SpeedPerturb(rate=(0.9, 1.1), n_rates=3).augment(X, random_state=1)
    seen = set()
    for x, y in zip(X, Y):
        for rate, (up, down) in {1.0: (1, 1), 0.9: (10, 9), 1.1: (10, 11)}.items():
            ref = scipy.signal.resample_poly(x, up, down)
            if len(ref) >= SR:  # centre crop
                ref = ref[(len(ref) - SR) // 2:][:SR]
            else:  # centred zero padding
                before = (SR - len(ref)) // 2
                ref = np.pad(ref, (before, SR - len(ref) - before))
            if np.allclose(y, ref, atol=1e-5):
                seen.add(rate)
                break
        else:
            raise AssertionError("a clip is not the resampled original at any rate of the grid")
    assert seen == {0.9, 1.0, 1.1}  # 40 clips draw every rate (0.995 rounds to 1)


def test_speed_of_one_leaves_the_clip_alone(rng):
    X = _tones(3, rng)
    np.testing.assert_array_equal(SpeedPerturb(rate=1.0).augment(X, random_state=0), X)


# -- SpecAugment -------------------------------------------------------------------


def test_spec_masks_zero_the_stated_bands():
    F = np.ones((50, 40, 101), dtype=np.float32)
    out = SpecAugment(n_freq_masks=1, freq_width=5, n_time_masks=1, time_width=7).augment(F, 0)
    for m in out:
        rows = np.nonzero((m == 0).all(axis=1))[0]
        cols = np.nonzero((m == 0).all(axis=0))[0]
        assert len(rows) == 5 and np.ptp(rows) == 4  # one contiguous band of 5 bins
        assert len(cols) == 7 and np.ptp(cols) == 6  # one span of 7 frames
        masked = np.zeros_like(m, dtype=bool)
        masked[rows] = masked[:, cols] = True
        np.testing.assert_array_equal(m == 0, masked)  # nothing else touched
    starts = {np.nonzero((m == 0).all(axis=1))[0][0] for m in out}
    assert len(starts) > 10


def test_spec_mean_fill_and_2d_input(rng):
    F = rng.normal(-40, 5, size=(10, 20, 30)).astype(np.float32)
    out = SpecAugment(freq_width=(3, 3), time_width=(4, 4), fill="mean").augment(F, 0)
    changed = out != F
    np.testing.assert_allclose(out[changed], np.broadcast_to(F.mean((1, 2), keepdims=True), F.shape)[changed],
                               rtol=1e-5)
    flat = rng.normal(size=(10, 30)).astype(np.float32)
    out2 = SpecAugment(time_width=(4, 4), n_time_masks=1).augment(flat, 0)
    assert ((out2 == 0).sum(axis=1) == 4).all()  # a single band: time masks only
    masks = [SpecAugment(n_freq_masks=1, freq_width=2, n_time_masks=0),
             SpecAugment(n_freq_masks=0, n_time_masks=1, time_width=3)]
    both = AugmentChain(masks).augment(np.ones((5, 20, 30), np.float32), 0)
    assert ((both == 0).all(axis=2).sum(axis=1) == 2).all() and ((both == 0).all(axis=1).sum(axis=1) == 3).all()


# -- probability, copies, alignment ---------------------------------------------------


def test_probability_controls_the_fraction_augmented(rng):
    X = _tones(400, rng, L=800)
    for p, low, high in [(0.0, 0, 0), (0.3, 0.2, 0.4), (1.0, 1, 1)]:
        out = Gain(gain_db=-20.0, p=p).augment(X, random_state=0)
        changed = ~np.all(out == X, axis=1)
        assert low <= changed.mean() <= high
        np.testing.assert_allclose(out[changed], X[changed] * 0.1, rtol=1e-6)


def test_fit_resample_keeps_originals_and_aligns_labels_and_metadata(rng):
    X = _tones(6, rng, L=2000)
    y = np.array(["yes", "no", "yes", "up", "no", "up"])
    groups = np.array(["s1", "s1", "s2", "s2", "s3", "s3"])
    w = np.arange(1.0, 7.0)
    X_res, y_res, meta = AddNoise(n_copies=2, random_state=0).fit_resample(
        X, y, groups=groups, sample_weight=w)
    assert X_res.shape == (18, 2000) and X_res.dtype == np.float32
    np.testing.assert_array_equal(X_res[:6], X)
    assert not np.allclose(X_res[6:12], X) and not np.allclose(X_res[6:12], X_res[12:])
    np.testing.assert_array_equal(y_res, np.tile(y, 3))
    np.testing.assert_array_equal(meta["groups"], np.tile(groups, 3))
    np.testing.assert_array_equal(meta["sample_weight"], np.tile(w, 3))
    # each copy is its own row's clip plus noise at a finite SNR
    assert np.all(np.abs(_snr_db(np.tile(X, (2, 1)), X_res[6:]) - 17.5) <= 12.5)


def test_fit_resample_multilabel_and_reproducible(rng):
    X = _tones(5, rng, L=1000)
    Y = rng.integers(0, 2, size=(5, 4))
    sampler = TimeShift(n_copies=1, random_state=3)
    X1, Y1 = sampler.fit_resample(X, Y)
    X2, _ = clone(sampler).fit_resample(X, Y)
    np.testing.assert_array_equal(Y1, np.vstack([Y, Y]))
    np.testing.assert_array_equal(X1, X2)
    assert sampler.sampling_strategy_ == {j: int(Y[:, j].sum()) for j in range(4)}


def test_augment_draws(rng):
    X = _tones(4, rng, L=1000)
    sampler = AddNoise(random_state=0)
    a, b = sampler.augment(X, random_state=1), sampler.augment(X, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sampler.augment(X, random_state=2))
    assert not np.array_equal(sampler.augment(X), sampler.augment(X))  # None: fresh draws
    g = np.random.default_rng(0)
    assert not np.array_equal(sampler.augment(X, g), sampler.augment(X, g))
    pcm = (X * 32767).astype(np.int16)
    out = Gain(gain_db=0.0).augment(pcm)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, pcm / 32768.0, rtol=1e-6)


@pytest.mark.parametrize("sampler", SAMPLERS[:-2] + SAMPLERS[-1:], ids=lambda s: type(s).__name__)
def test_augment_float32_shape_finite(sampler, rng):
    X = np.concatenate([_tones(5, rng, L=SR), np.zeros((1, SR), np.float32)]).astype(np.float64)
    out = sampler.augment(X, random_state=0)
    assert out.dtype == np.float32 and out.shape == X.shape and np.isfinite(out).all()


# -- pipelines ---------------------------------------------------------------------


def _toy_task(rng, n=40, L=256):
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(0, 0.1, size=(n, L)) + y[:, None] * np.sin(np.arange(L) * 0.2)
    return X.astype(np.float32), y


def test_predict_never_augments(rng, monkeypatch):
    X, y = _toy_task(rng)
    chain = AugmentChain([AddNoise(snr_db=5.0), TimeShift(shift_ms=(-1, 1)), Gain()],
                         n_copies=2, random_state=0)
    pipe = make_pipeline(chain, LogisticRegression(max_iter=500)).fit(X, y)
    calls = []
    original = BaseAugmenter._augment_all
    monkeypatch.setattr(BaseAugmenter, "_augment_all",
                        lambda self, *a, **k: calls.append(type(self)) or original(self, *a, **k))
    X_test = rng.normal(size=(15, 256)).astype(np.float32)
    proba = pipe.predict_proba(X_test)
    pred = pipe.predict(X_test)
    assert calls == []  # no sampler ran at predict time
    direct = LogisticRegression(max_iter=500).fit(*clone(chain).fit_resample(X, y))
    np.testing.assert_allclose(proba, direct.predict_proba(X_test))
    np.testing.assert_array_equal(pred, direct.predict(X_test))
    del calls[:]
    pipe.fit(X, y)
    assert calls == [AugmentChain, AugmentChain]  # ...while fit draws the two copies


class _GroupRecorder(ClassifierMixin, BaseEstimator):
    """Records the groups it was fitted with (a stand-in for a speaker-grouped split)."""

    def fit(self, X, y, groups=None):
        check_consistent_length(X, y, groups)
        self.X_, self.groups_, self.classes_ = np.asarray(X), np.asarray(groups), np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_groups_and_weights_stay_aligned_in_pipeline(rng):
    X, y = _toy_task(rng, n=12)
    groups = np.repeat(np.arange(6), 2)
    pipe = Pipeline([("gain", Gain(n_copies=2, random_state=0)), ("shift", TimeShift((-2, 2), random_state=0)),
                     ("rec", _GroupRecorder())])
    idx = augmented_indices(pipe, len(X))
    assert len(idx) == 12 * 3 * 2
    pipe.fit(X, y, rec__groups=groups[idx])
    rec = pipe.named_steps["rec"]
    # every row the classifier saw is a shifted, scaled version of its source row
    for row, src in zip(rec.X_, idx):
        assert np.max(np.abs(scipy.signal.correlate(row, X[src], method="fft"))) > 0.9 * np.linalg.norm(
            row) * np.linalg.norm(X[src])
    np.testing.assert_array_equal(rec.groups_, groups[idx])
    w = rng.uniform(0.5, 2, size=len(X))
    weighted = make_pipeline(Gain(n_copies=1, random_state=0), LogisticRegression(max_iter=500))
    weighted.fit(X, y, logisticregression__sample_weight=w[augmented_indices(weighted, len(X))])
    Xr, yr, meta = Gain(n_copies=1, random_state=0).fit_resample(X, y, sample_weight=w)
    direct = LogisticRegression(max_iter=500).fit(Xr, yr, sample_weight=meta["sample_weight"])
    np.testing.assert_allclose(weighted[-1].coef_, direct.coef_)
    with pytest.raises(ValueError, match="RandomOverSampler"):
        augmented_indices(make_pipeline(RandomOverSampler(), LogisticRegression()), 10)


# -- chain -------------------------------------------------------------------------


def test_chain_step_probabilities(rng):
    X = np.ones((400, 500), dtype=np.float32)
    out = AugmentChain([(Gain(gain_db=-20.0), 0.5), (Gain(gain_db=-40.0, p=1.0), 0.25)]).augment(X, 0)
    level = np.round(20 * np.log10(out[:, 0])).astype(int)
    frac = {db: np.mean(level == db) for db in (0, -20, -40, -60)}
    # independent draws per step: 0.375, 0.375, 0.125, 0.125 expected
    assert abs(frac[0] - 0.375) < 0.08 and abs(frac[-20] - 0.375) < 0.08
    assert abs(frac[-40] - 0.125) < 0.06 and abs(frac[-60] - 0.125) < 0.06
    # bare steps use their own p
    out = AugmentChain([Gain(gain_db=-20.0, p=0.0)]).augment(X, 0)
    np.testing.assert_array_equal(out, X)


def test_chain_params_and_clone():
    chain = AugmentChain([(AddNoise(), 0.5), TimeShift(), TimeShift(mode="roll")])
    params = chain.get_params()
    assert params["addnoise__p"] == 0.5 and params["timeshift-2__mode"] == "roll"
    chain.set_params(addnoise__snr_db=(0, 3), addnoise__p=0.9, **{"timeshift-1__shift_ms": 20.0})
    assert chain.steps[0] == (chain.steps[0][0], 0.9) and chain.steps[0][0].snr_db == (0, 3)
    assert chain.steps[1].shift_ms == 20.0
    twin = clone(chain)
    assert twin.steps[1] is not chain.steps[1] and twin.get_params()["timeshift-1__shift_ms"] == 20.0
    with pytest.raises(ValueError, match="steps are named"):
        chain.set_params(gain__gain_db=1.0)


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("sampler, match", [
    (AddNoise(snr_db=(10, 5)), "snr_db"),
    (AddNoise("purple"), "'noise' parameter of AddNoise"),
    (AddNoise([np.ones((2, 100))]), "1-D"),
    (AddNoise([np.array([1.0, np.nan])]), "NaN"),
    (TimeShift(mode="wrap"), "mode"),
    (Gain(p=1.5), r"'p' parameter of Gain must be a float in the range \[0.0, 1.0\]"),
    (TimeStretch(rate=(0.0, 1.0)), "rate"),
    (TimeStretch(hop_length=100), "divide"),
    (SpeedPerturb(rate=(0.3, 1.0)), "rate"),
    (SpeedPerturb(n_rates=0), "n_rates"),
    (SpecAugment(fill="median"), "fill"),
    (AugmentChain([Gain(), SpecAugment()]), "mixes samplers"),
    (AugmentChain([LogisticRegression()]), "sklkws.augment"),
], ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_bad_parameters_named(sampler, match, rng):
    X = rng.normal(size=(3, 600)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        sampler.augment(X)
    with pytest.raises(ValueError, match=match):
        clone(sampler).fit_resample(X, [0, 1, 0])


@pytest.mark.parametrize("X, match", [
    (np.zeros((2, 100, 2)), "stereo"),
    (np.array([[0.0, np.nan]]), "NaN"),
    (np.zeros((2, 0)), "Empty"),
])
def test_bad_audio_named(X, match):
    with pytest.raises(ValueError, match=match):
        TimeShift().augment(X)


def test_nan_check_names_clip_and_honours_assume_finite():
    X = np.zeros((70, SR), dtype=np.float32)
    X[45, 3] = np.nan
    with pytest.raises(ValueError, match="clip 45"):
        AddNoise().augment(X)  # chunked: found in a later chunk
    with sklearn.config_context(assume_finite=True):
        assert np.isnan(Gain(gain_db=0.0).augment(X)[45, 3])  # the caller vouched for X


def test_nan_check_is_exact_where_row_sums_overflow():
    X = np.full((3, 400), np.finfo(np.float32).max / 2, dtype=np.float32)  # finite, sums overflow
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\], but its peak"):  # finite, but not audio
        Gain(gain_db=0.0).augment(X)
    X[2, 7] = -np.inf
    with pytest.raises(ValueError, match="clip 2"):
        Gain(gain_db=0.0).augment(X)


# -- real data ---------------------------------------------------------------------


def test_real_background_noise_on_real_words(speech_commands_dir):
    from sklkws.datasets import load_background_noise
    from sklkws.datasets._speech_commands import read_clip

    files = sorted((speech_commands_dir / "yes").glob("*.flac"))[:8]
    X = np.stack([read_clip(f, n_samples=SR) for f in files])
    noise = load_background_noise(speech_commands_dir)
    chain = AugmentChain([AddNoise(noise, snr_db=(5, 15)), TimeShift()])
    noisy = AddNoise(noise, snr_db=(5, 15)).augment(X, random_state=0)
    snr = _snr_db(X, noisy)
    assert snr.min() >= 5 - 1e-3 and snr.max() <= 15 + 1e-3
    out = chain.augment(X, random_state=0)
    assert out.shape == X.shape and out.dtype == np.float32 and np.isfinite(out).all()


def test_recordings_are_checked_once_not_on_every_batch(monkeypatch):
    # The check reads every sample (NaN, inf): 25.6 MB of Speech Commands' backgrounds on
    # every training batch cost about a tenth of the batch; it belongs at the door.
    calls = []
    original = AddNoise._recordings

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(AddNoise, "_recordings", counted)
    rng = np.random.default_rng(0)
    step = AddNoise({"hum": rng.standard_normal(40000).astype(np.float32)}, snr_db=10.0)
    X = rng.standard_normal((8, 1600)).astype(np.float32)
    outputs = [step.augment(X, random_state=seed) for seed in range(6)]
    assert len(calls) <= 2
    assert not np.array_equal(outputs[0], outputs[1])  # still a fresh draw per batch
    step.set_params(noise={"hum": np.full(40000, np.nan, dtype=np.float32)})
    with pytest.raises(ValueError, match="NaN or infinite"):
        step.augment(X, random_state=0)
