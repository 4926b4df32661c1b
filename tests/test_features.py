"""MelFeatures against librosa clip by clip; GlobalStatFeatures against the seed's loop."""

import librosa
import numpy as np
import pandas as pd
import pytest

from sklkws.features import GLOBAL_STATS, GlobalStatFeatures, MelFeatures


@pytest.fixture
def clips(rng):
    t = np.arange(16000) / 16000
    tones = np.sin(2 * np.pi * rng.uniform(200, 3000, size=(5, 1)) * t)
    return (0.3 * tones + 0.05 * rng.standard_normal((5, 16000))).astype(np.float32)


def _librosa_reference(x, kind, sr, n_fft, hop, n_mels, fmin, fmax, n_mfcc, top_db):
    if kind == "power":
        return np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop)) ** 2
    S = librosa.feature.melspectrogram(
        y=x, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin, fmax=fmax
    )
    log_S = librosa.power_to_db(S, top_db=top_db)
    return log_S if kind == "logmel" else librosa.feature.mfcc(S=log_S, n_mfcc=n_mfcc)


@pytest.mark.parametrize("kind", ["power", "logmel", "mfcc"])
@pytest.mark.parametrize(
    "params",
    [
        dict(sr=16000, n_fft=512, hop=160, n_mels=40, fmin=20.0, fmax=None, n_mfcc=13, top_db=80.0),
        dict(sr=16000, n_fft=400, hop=128, n_mels=64, fmin=0.0, fmax=7600.0, n_mfcc=20, top_db=None),
        dict(sr=8000, n_fft=256, hop=80, n_mels=32, fmin=50.0, fmax=3500.0, n_mfcc=10, top_db=60.0),
    ],
)
def test_same_numbers_as_librosa(clips, kind, params):
    p = params
    mel = MelFeatures(
        kind, sample_rate=p["sr"], n_fft=p["n_fft"], hop_length=p["hop"], n_mels=p["n_mels"],
        fmin=p["fmin"], fmax=p["fmax"], n_mfcc=p["n_mfcc"], top_db=p["top_db"], batch_size=2,
    )
    out = mel.fit_transform(clips)
    ref = np.stack([_librosa_reference(x, kind, **p) for x in clips])
    assert out.shape == ref.shape == (len(clips), mel.n_bins_, mel.n_frames_)
    if kind == "power":
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * ref.max())
    else:  # dB scale: absolute tolerance
        np.testing.assert_allclose(out, ref, atol=2e-3)


def test_dtype_follows_input_and_float64_is_exact(clips):
    mel = MelFeatures().fit(clips)
    assert mel.transform(clips).dtype == np.float32
    out64 = MelFeatures().fit_transform(clips.astype(np.float64))
    assert out64.dtype == np.float64
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=clips[0].astype(np.float64), sr=16000, n_fft=512, hop_length=160, n_mels=40, fmin=20.0)
    )
    np.testing.assert_allclose(out64[0], ref, atol=1e-8)


def test_batching_does_not_change_the_result(clips):
    # Different batch shapes may take different BLAS kernels, so float32 results can
    # differ in the last bit; a batching bug (order, padding leaking across clips) would
    # be off by whole decibels.
    whole = MelFeatures(batch_size=1000).fit_transform(clips)
    np.testing.assert_allclose(MelFeatures(batch_size=2).fit_transform(clips), whole, rtol=1e-5, atol=1e-4)


def test_flatten_and_feature_names(clips):
    mel = MelFeatures(kind="mfcc", n_mfcc=5, flatten=True).fit(clips)
    out = mel.transform(clips)
    names = mel.get_feature_names_out()
    assert out.shape == (5, 5 * 101) == (5, len(names))
    assert names[0] == "mfcc0_t0" and names[-1] == "mfcc4_t100"
    np.testing.assert_array_equal(out.reshape(5, 5, 101), MelFeatures(kind="mfcc", n_mfcc=5).fit_transform(clips))
    assert not hasattr(MelFeatures().fit(clips), "get_feature_names_out")


def test_features_see_the_tone(rng):
    t = np.arange(16000) / 16000
    X = np.stack([np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 4000 * t)]).astype(np.float32)
    power = MelFeatures("power").fit_transform(X)
    peak_hz = power.mean(axis=2).argmax(axis=1) * 16000 / 512
    np.testing.assert_allclose(peak_hz, [1000, 4000], atol=16000 / 512)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(fmax=9000), "Nyquist"),
        (dict(fmin=5000, fmax=4000), "fmin"),
        (dict(kind="mfcc", n_mfcc=50, n_mels=40), "n_mfcc"),
        (dict(kind="cqt"), "kind"),
    ],
)
def test_bad_parameters_are_named(clips, params, message):
    with pytest.raises(ValueError, match=message):
        MelFeatures(**params).fit(clips)


def test_short_clips_without_centering_are_rejected():
    with pytest.raises(ValueError, match="too short"):
        MelFeatures(center=False, n_fft=512).fit(np.zeros((2, 100)))


def _seed_global_features(x, num_steps):
    """The audio-tagging write-up's loop, transcribed as the reference."""
    stride = len(x) / num_steps
    rows = []
    for s in range(num_steps):
        i = s * stride
        wl = max(0, int(i - stride / 2))
        wr = int(i + 1.5 * stride)
        local = x[wl:wr]
        pct = np.percentile(local, [0, 1, 25, 30, 50, 60, 75, 99, 100]).tolist()
        rows.append(pct + [local.max() - local.min(), local.mean(), local.std()])
    return np.array(rows)


@pytest.mark.parametrize("n_samples, n_frames", [(16000, 128), (22050, 128), (1000, 7)])
def test_global_stats_match_the_seed(rng, n_samples, n_frames):
    X = rng.standard_normal((3, n_samples))
    out = GlobalStatFeatures(n_frames=n_frames, flatten=False).fit_transform(X)
    assert out.shape == (3, n_frames, len(GLOBAL_STATS))
    for x, stats in zip(X, out):
        np.testing.assert_allclose(stats, _seed_global_features(x, n_frames), rtol=1e-10, atol=1e-12)


def test_clip_length_ignores_trailing_zero_padding(rng):
    X = np.zeros((2, 16000))
    X[0, :8000] = rng.standard_normal(8000)
    X[1, 100:12000] = rng.standard_normal(11900)
    gsf = GlobalStatFeatures(n_frames=4, include_length=True).fit(X)
    np.testing.assert_allclose(gsf.transform(X)[:, -1], [0.5, 0.75])
    assert gsf.get_feature_names_out()[-1] == "clip_length"


def test_global_stats_pandas_output(rng):
    X = rng.standard_normal((4, 800))
    df = GlobalStatFeatures(n_frames=8).set_output(transform="pandas").fit_transform(X)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (4, 96) and list(df.columns[:2]) == ["t0_p0", "t0_p1"]
    with pytest.raises(ValueError, match="include_length"):
        GlobalStatFeatures(include_length=True, flatten=False).fit(X)


def test_historical_module_paths_give_the_frontend_objects():
    import sklkws.features
    import sklkws.frontend
    import sklkws.preprocessing

    for module in (sklkws.features, sklkws.preprocessing):
        for name in module.__all__:
            assert getattr(module, name) is getattr(sklkws.frontend, name)


def test_mel_power_one_product_equals_projection_of_the_power():
    from sklkws.frontend import _maths

    X = np.random.default_rng(3).normal(size=(4, 4000)).astype(np.float32)
    power = _maths.power_spectrogram(X, 256, 100)
    mel = _maths.mel_matrix(16000, 256, 24, 0.0, None)
    fused = _maths.mel_spectrogram(X, 16000, 256, 100, 24, 0.0, None)
    assert fused.dtype == np.float32
    np.testing.assert_allclose(fused, _maths.project(power, mel), rtol=1e-5, atol=1e-9)


def test_frontend_transformers_import_without_keras():
    import subprocess
    import sys

    code = "import sys, sklkws.frontend, sklkws.features; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kind", ["power", "logmel", "mfcc"])
def test_chunks_on_many_threads_give_librosa_numbers(clips, kind, monkeypatch):
    # One clip per chunk and more threads than cores: each thread reuses its own frame and
    # padding buffers over many chunks; a chunk written to the wrong clips, or a buffer shared
    # by two threads (63 chunks make their overlap likely), would be off by whole decibels.
    from sklkws.frontend import _maths

    X = np.concatenate([clips * g for g in np.geomspace(0.1, 2.0, 12)] + [clips[:3]])  # 63 clips
    p = dict(sr=16000, n_fft=512, hop=160, n_mels=40, fmin=20.0, fmax=None, n_mfcc=13, top_db=80.0)
    ref = np.stack([_librosa_reference(x, kind, **p) for x in X])
    monkeypatch.setattr(_maths, "CHUNK_BYTES", 1)
    monkeypatch.setattr(_maths, "_n_threads", lambda: 3)
    out = MelFeatures(kind, batch_size=8).fit_transform(X)
    if kind == "power":
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * ref.max())
    else:
        np.testing.assert_allclose(out, ref, atol=2e-3)


@pytest.mark.parametrize("n_mels, n_fft", [(40, 512), (128, 2048), (64, 256)])
def test_mel_bands_hold_every_non_zero_filter_weight(n_mels, n_fft):
    # The banded product skips the filter bank's zeros: put back together, the bands are the
    # whole matrix (filters that are all zero, as with many mels at a small n_fft, included).
    from sklkws.frontend import _maths

    mel = _maths.mel_matrix(16000, n_fft, n_mels, 0.0, None)
    rebuilt = np.zeros((n_mels, 2 * mel.shape[1]), dtype=np.float32)
    for mels, bins, matrix in _maths._mel_bands(16000, n_fft, n_mels, 0.0, None, np.dtype(np.float32)):
        rebuilt[mels, bins] = matrix.T
    np.testing.assert_array_equal(rebuilt[:, 0::2], mel)
    np.testing.assert_array_equal(rebuilt[:, 1::2], mel)
