"""Behaviour of the waveform transformers, checked against librosa and by measurement."""

import librosa
import numpy as np
import pytest

from sklkws.preprocessing import Normalizer, PadOrCrop, Preemphasis, TrimSilence, pad_clips


@pytest.fixture
def clips(rng):
    return (0.3 * rng.standard_normal((6, 4000))).astype(np.float32)


def test_preemphasis_matches_librosa(clips):
    out = Preemphasis(coef=0.9).fit_transform(clips)
    expected = np.stack([librosa.effects.preemphasis(x, coef=0.9, zi=0.0) for x in clips])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32


@pytest.mark.parametrize("method", ["peak", "minmax", "rms"])
def test_normalizer_reaches_its_target(clips, method):
    X = clips * np.array([[0.01], [0.1], [1], [2], [5], [0.5]], dtype=np.float32)
    out = Normalizer(method=method, target_dbfs=-26).fit_transform(X)
    if method == "peak":
        np.testing.assert_allclose(np.abs(out).max(axis=1), 1.0, rtol=1e-6)
    elif method == "minmax":
        np.testing.assert_allclose(out.min(axis=1), 0.0, atol=1e-7)
        np.testing.assert_allclose(out.max(axis=1), 1.0, rtol=1e-6)
    else:
        rms_db = 20 * np.log10(np.sqrt(np.mean(out.astype(np.float64) ** 2, axis=1)))
        np.testing.assert_allclose(rms_db, -26.0, atol=1e-3)


@pytest.mark.parametrize("method", ["peak", "minmax", "rms"])
def test_normalizer_leaves_silence_finite(method):
    out = Normalizer(method=method).fit_transform(np.zeros((2, 100)))
    assert np.isfinite(out).all() and not out.any()


def _burst_clips(rng):
    """Clips of silence with one noise burst each at a known place."""
    X = np.zeros((4, 16000), dtype=np.float32)
    bursts = [(1000, 3000), (6000, 9000), (0, 500), (12000, 16000)]
    for row, (a, b) in zip(X, bursts):
        row[a:b] = 0.5 * rng.standard_normal(b - a)
    return X, bursts


@pytest.mark.parametrize("align", ["left", "center"])
def test_trim_silence_matches_librosa_trim(rng, align):
    X, _ = _burst_clips(rng)
    trim = TrimSilence(top_db=40, align=align).fit(X)
    out = trim.transform(X)
    for x, y in zip(X, out):
        kept, (start, end) = librosa.effects.trim(x, top_db=40)
        voiced = y[np.flatnonzero(y)[0] : np.flatnonzero(y)[-1] + 1]
        np.testing.assert_array_equal(voiced, np.trim_zeros(kept))
        if align == "left":
            assert y[: end - start].tolist() == kept.tolist() and not y[end - start :].any()
        else:
            lead = (len(x) - (end - start)) // 2
            np.testing.assert_array_equal(y[lead : lead + end - start], kept)


def test_trim_silence_bounds_and_all_silent_clip(rng):
    X, bursts = _burst_clips(rng)
    X[2] = 0
    start, end = TrimSilence(top_db=40).fit(X).voiced_bounds(X)
    assert start[2] == end[2] == 0
    for i in (0, 1, 3):
        a, b = bursts[i]
        assert a - 2048 <= start[i] <= a and b <= end[i] <= b + 2048


def test_pad_or_crop_modes():
    X = np.arange(1, 11, dtype=np.float64)[None, :].repeat(3, axis=0)
    np.testing.assert_array_equal(PadOrCrop(length=4, crop="left").fit_transform(X)[0], [1, 2, 3, 4])
    np.testing.assert_array_equal(PadOrCrop(length=4).fit_transform(X)[0], [4, 5, 6, 7])
    np.testing.assert_array_equal(PadOrCrop(length=13, pad="center").fit_transform(X)[0][:2], [0, 1])
    padded = PadOrCrop(length=14, pad="right").fit_transform(X)
    np.testing.assert_array_equal(padded[:, 10:], 0)


def test_pad_or_crop_random_is_reproducible_and_keeps_content(rng):
    X = rng.standard_normal((50, 100))
    crop = PadOrCrop(length=60, crop="random", random_state=3).fit(X)
    a, b = crop.transform(X), crop.transform(X)
    np.testing.assert_array_equal(a, b)
    starts = {int(np.flatnonzero(np.isclose(x, row[0]))[0]) for x, row in zip(X, a)}
    assert len(starts) > 5  # offsets really vary
    for x, row in zip(X, a):
        s = int(np.flatnonzero(x == row[0])[0])
        np.testing.assert_array_equal(x[s : s + 60], row)
    pad = PadOrCrop(length=300, pad="random", random_state=0).fit_transform(X)
    for x, row in zip(X, pad):
        s = int(np.flatnonzero(row == x[0])[0])
        np.testing.assert_array_equal(row[s : s + 100], x)
        assert np.count_nonzero(row) == np.count_nonzero(x)


def test_int16_is_read_as_pcm():
    X = np.array([[16384, -32768, 0]], dtype=np.int16)
    out = Normalizer(method="rms").fit(X).transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(Preemphasis(coef=0.0).fit_transform(X), [[0.5, -1.0, 0.0]])


def test_pad_clips_stacks_ragged_clips():
    X, lengths = pad_clips([np.ones(5), np.ones(2)], length=4)
    assert X.shape == (2, 4) and lengths.tolist() == [4, 2]
    with pytest.raises(ValueError, match="1-D mono"):
        pad_clips([np.ones((2, 2))])


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((2, 100, 2)), "stereo"),
        (np.array([[0.0, np.nan, 1.0]]), "NaN"),
        (np.array([[0.0, np.inf, 1.0]]), "infinity"),
        (np.zeros((3, 0)), "Empty clips"),
        (np.zeros(100), "Expected 2D array"),
        ([np.zeros(10), np.zeros(12)], "different lengths"),
    ],
)
def test_bad_input_is_named(X, message):
    with pytest.raises(ValueError, match=message):
        Preemphasis().fit_transform(X)


def test_transform_rejects_a_different_clip_length():
    pre = Preemphasis().fit(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="features"):
        pre.transform(np.zeros((2, 90)))
