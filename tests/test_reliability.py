"""Reliability (issue 17): the inputs an adversarial user throws, and no silent wrong answer."""

import numpy as np
import pytest
from imblearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression

from sklkws.augment import AddNoise, Gain, SpeedPerturb, TimeShift, TimeStretch
from sklkws.datasets import make_synthetic_commands
from sklkws.device._audio import AudioRangeWarning, pcm_to_float, to_float_audio
from sklkws.features import GlobalStatFeatures, MelFeatures
from sklkws.preprocessing import Normalizer, PadOrCrop, Preemphasis


@pytest.fixture(scope="module")
def commands():
    """The loaders' own output: object-dtype string labels, float32 clips."""
    X, y, _ = make_synthetic_commands(["yes", "no"], 3, n_unknown=0, n_silence=1, random_state=0)
    assert y.dtype == object
    return X, y


# -- 0: samplers in imblearn Pipelines with the loaders' labels ----------------------

SAMPLERS = [AddNoise, Gain, TimeShift, TimeStretch, SpeedPerturb]


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: s.__name__)
def test_sampler_pipeline_with_loader_labels(commands, sampler):
    X, y = commands
    pipe = make_pipeline(sampler(random_state=0), MelFeatures(n_mels=16, hop_length=800, flatten=True),
                         LogisticRegression(max_iter=500))
    pipe.fit(X, y)
    step = pipe.steps[0][1]
    assert step.sampling_strategy_ == {label: int((y == label).sum()) for label in set(y)}
    assert all(type(k) is str for k in step.sampling_strategy_)
    assert set(pipe.predict(X)) <= set(y)


def test_sampling_strategy_keys_are_plain_python_for_numeric_labels():
    X = np.zeros((4, 100), dtype=np.float32)
    strategy = Gain(n_copies=2).fit(X, np.array([3, 3, 5, 7])).sampling_strategy_
    assert strategy == {3: 4, 5: 2, 7: 2}
    assert all(type(k) is int for k in strategy)


# -- 2: integer PCM of any width, float far outside [-1, 1] --------------------------

def _tone(n=16000, amp=0.5):
    t = np.arange(n) / 16000
    return (amp * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16])
def test_integer_pcm_scaled_by_full_range(dtype):
    x = _tone()
    info = np.iinfo(dtype)
    half = 2.0 ** (8 * np.dtype(dtype).itemsize - 1)
    pcm = np.round(x.astype(np.float64) * half + (half if info.min == 0 else 0)).astype(dtype)
    mel = MelFeatures()
    ref = mel.fit_transform(x)
    got = mel.fit_transform(pcm)
    # The integer clip is the float clip up to quantisation: the tone's bins agree
    # (8-bit quantisation noise lifts the quiet bins, so only 16 bits and up agree everywhere).
    assert abs(got.max() - ref.max()) < 0.1
    if np.dtype(dtype).itemsize > 1:
        assert np.abs(got - ref).max() < 0.05


def test_int32_pcm_predictions_match_float(commands):
    X, y = commands
    pipe = make_pipeline(MelFeatures(n_mels=16, hop_length=800, flatten=True),
                         LogisticRegression(max_iter=500)).fit(X, y)
    pcm = np.round(np.clip(X, -1, 1 - 2**-31).astype(np.float64) * 2**31).astype(np.int32)
    np.testing.assert_allclose(pipe.predict_proba(pcm), pipe.predict_proba(X), atol=1e-3)


def test_pcm_to_float_keeps_float_and_scales_unsigned():
    x = np.array([0.25, -0.5], dtype=np.float64)
    assert pcm_to_float(x) is x
    np.testing.assert_array_equal(pcm_to_float(np.array([0, 128, 192], dtype=np.uint8)), [-1.0, 0.0, 0.5])
    assert pcm_to_float(np.zeros(2, np.float16)).dtype == np.float32


@pytest.mark.parametrize("transformer", [MelFeatures(), GlobalStatFeatures(), Preemphasis(), Normalizer()],
                         ids=lambda t: type(t).__name__)
def test_huge_float_audio_refused(transformer):
    X = _tone() * np.float32(1e30)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\].*peak is 5e\+29.*x / 32768"):
        transformer.fit_transform(X)


def test_unscaled_int16_as_float_warned():
    X = np.round(_tone() * 32767)  # float64 holding 16-bit PCM values
    with pytest.warns(AudioRangeWarning, match=r"peak is 1.64e\+04.*x / 32768"):
        MelFeatures().fit_transform(X)


def test_audio_in_range_not_warned():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioRangeWarning)
        MelFeatures().fit_transform(_tone(amp=1.0) * 8)  # a loud mix, +18 dB over full scale


def test_add_noise_refuses_huge_audio_instead_of_inf():
    X = _tone() * np.float32(1e30)
    with pytest.raises(ValueError, match="peak"):
        AddNoise(random_state=0).augment(X)
    with pytest.raises(ValueError, match="peak"):
        AddNoise(random_state=0).fit_resample(X, ["a"])


def test_add_noise_output_finite_at_extreme_snr_and_level():
    X = np.concatenate([_tone(amp=1e-30), _tone(amp=100.0), np.zeros_like(_tone())])
    with pytest.warns(AudioRangeWarning):
        out = AddNoise(snr_db=(-60.0, 120.0)).augment(X, random_state=0)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("snr_db", [-400.0, (-800.0, 0.0), 500.0])
def test_add_noise_refuses_snr_outside_the_finite_range(snr_db):
    # -800 dB scales the noise by 1e40: past float32's range, the output would be inf.
    with pytest.raises(ValueError, match=r"'snr_db' parameter of AddNoise must be .*\[-60.0, 120.0\]"):
        AddNoise(snr_db=snr_db).augment(_tone(), random_state=0)


def test_to_float_audio_refuses_non_numeric():
    with pytest.raises(ValueError, match="numeric samples"):
        to_float_audio(np.array(["a", "b"]))


# -- 4: a stereo recording read as thousands of 2-sample clips -----------------------

@pytest.mark.parametrize("transformer", [MelFeatures(), GlobalStatFeatures(), Preemphasis(),
                                         Normalizer(), PadOrCrop(length=2)],
                         ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("channels", [1, 2, 8])
def test_multichannel_recording_refused(transformer, channels):
    stereo = np.zeros((16000, channels), dtype=np.float32)
    with pytest.raises(ValueError, match=rf"shape \(16000, {channels}\).*Mix it down"):
        transformer.fit(stereo)


@pytest.mark.parametrize("sampler", [AddNoise, Gain], ids=lambda s: s.__name__)
def test_multichannel_recording_refused_by_samplers(sampler):
    stereo = np.zeros((16000, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="Mix it down"):
        sampler().fit_resample(stereo, np.zeros(16000))
    with pytest.raises(ValueError, match="Mix it down"):
        sampler().augment(stereo)


def test_multichannel_recording_as_nested_list_refused():
    with pytest.raises(ValueError, match=r"shape \(16000, 2\).*Mix it down"):
        MelFeatures().fit(np.zeros((16000, 2)).tolist())
    with pytest.raises(ValueError, match="multi-channel.*Mix it down"):
        Preemphasis().fit(np.zeros((2, 100, 2)).tolist())


def test_low_rate_short_clips_still_accepted():
    # 100 Hz "clips" of 8 samples in a small batch are the transformer's own business.
    X = np.random.default_rng(0).uniform(-1, 1, size=(20, 8))
    assert MelFeatures(n_fft=8, hop_length=2, n_mels=3, sample_rate=100).fit_transform(X).shape[0] == 20
    assert Preemphasis().fit_transform(X).shape == (20, 8)


# -- 1, 5: checkpoints never resume a stale model and survive corruption -------------

CKPT_PARAMS = dict(arch_params={"n_blocks": 1, "filters": 4, "kernel_size": 3}, epochs=1, batch_size=32,
                   run_eagerly=True, random_state=0)


def _ckpt_clips():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["high", "low"]), 65)  # 130 clips: more than the 64 once sampled
    X = np.sin(np.select([y == "low"], [0.02], 0.12)[:, None] * np.arange(200) * 2 * np.pi)
    return (X + 0.3 * rng.standard_normal(X.shape)).astype(np.float32), y


def _fit(ckpt, X, y, **params):
    from sklkws.models import KerasResNetClassifier

    return KerasResNetClassifier(**{**CKPT_PARAMS, **params}, checkpoint_dir=ckpt).fit(X, y)


def test_checkpoint_fingerprint_covers_every_clip_and_elided_parameters(tmp_path):
    import warnings

    keras = pytest.importorskip("keras")  # noqa: F841
    X, y = _ckpt_clips()
    ckpt = tmp_path / "ckpt"
    noise = np.random.default_rng(1).standard_normal(5000).astype(np.float32)
    _fit(ckpt, X, y, augment=AddNoise(noise=[noise]))

    X2 = X.copy()
    X2[1, 100] += 0.5  # clip 1: not among the evenly spaced clips hashed before
    with pytest.warns(UserWarning, match="from other data or parameters"):
        _fit(ckpt, X2, y, augment=AddNoise(noise=[noise]))

    noise2 = noise.copy()
    noise2[2500] = 3.0  # repr(AddNoise(noise=[noise2])) is that of AddNoise(noise=[noise])
    assert repr(AddNoise(noise=[noise2])) == repr(AddNoise(noise=[noise]))
    with pytest.warns(UserWarning, match="from other data or parameters"):
        _fit(ckpt, X2, y, augment=AddNoise(noise=[noise2]))

    # The same data and parameters: the finished model is returned, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _fit(ckpt, X2, y, augment=AddNoise(noise=[noise2.copy()]))


def test_fingerprint_covers_weights_groups_and_nested_estimators():
    from sklkws.models._checkpoint import fingerprint

    X, y = np.zeros((3, 10), np.float32), np.array([0, 1, 0])
    base = fingerprint((X, y, None, None), {"augment": Gain(gain_db=3.0)})
    assert base == fingerprint((X.copy(), y.copy(), None, None), {"augment": Gain(gain_db=3.0)})
    assert base != fingerprint((X, y, np.ones(3), None), {"augment": Gain(gain_db=3.0)})
    assert base != fingerprint((X, y, None, np.arange(3)), {"augment": Gain(gain_db=3.0)})
    assert base != fingerprint((X, y, None, None), {"augment": Gain(gain_db=4.0)})
    fitted = Gain(gain_db=3.0)
    fitted.fit_resample(np.ones((2, 10), np.float32), [0, 1])  # fitted attributes are not parameters
    assert base == fingerprint((X, y, None, None), {"augment": fitted})
    # An unpicklable parameter falls back to its repr rather than failing.
    import threading

    lock = threading.Lock()
    assert fingerprint((X, y), {"f": lock}) == fingerprint((X, y), {"f": lock})


def _corrupt_state_missing_key(ckpt):
    import json

    state = json.loads((ckpt / "state.json").read_text())
    del state["fingerprint"]
    (ckpt / "state.json").write_text(json.dumps(state))


def _corrupt_state_garbage(ckpt):
    (ckpt / "state.json").write_bytes(b'{"epoch": 0, "compl')


def _corrupt_model_truncated(ckpt):
    model = next(ckpt.glob("epoch-*.keras"))
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])


def _corrupt_model_contents(ckpt):
    import zipfile

    model = next(ckpt.glob("epoch-*.keras"))
    with zipfile.ZipFile(model, "w") as archive:  # a sound zip that is no Keras model
        archive.writestr("config.json", "{}")


def test_corrupt_checkpoint_set_aside_and_training_starts_afresh(tmp_path):
    import json

    pytest.importorskip("keras")
    X, y = _ckpt_clips()
    ckpt = tmp_path / "ckpt"
    _fit(ckpt, X, y)
    corruptions = [_corrupt_state_missing_key, _corrupt_state_garbage, _corrupt_model_truncated,
                   _corrupt_model_contents]
    for n, corrupt in enumerate(corruptions, start=1):
        corrupt(ckpt)
        with pytest.warns(UserWarning, match=r"Checkpoint in .* is unusable \(.*\); moved it to .*corrupt-"):
            clf = _fit(ckpt, X, y)
        assert clf.n_epochs_ == 1, corrupt.__name__
        state = json.loads((ckpt / "state.json").read_text())  # a fresh, complete checkpoint
        assert state["complete"] and (ckpt / state["model_file"]).is_file(), corrupt.__name__
        aside = list(ckpt.glob("corrupt-*"))
        assert sum(len(list(d.iterdir())) for d in aside) >= n, corrupt.__name__


# -- 7: stale downloads, missing labels, pickles from another scikit-learn ------------

def _tiny_archive(path):
    import io
    import tarfile

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600, np.float32), 16000, format="WAV", subtype="PCM_16")
    data = buf.getvalue()
    with tarfile.open(path, "w:gz") as tar:
        for name in ("yes/a_nohash_0.wav", "no/b_nohash_0.wav"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_stale_parts_of_killed_downloads_are_removed(tmp_path):
    import os
    import time

    from sklkws.datasets import fetch_speech_commands
    from sklkws.datasets._fetch import ARCHIVES

    archive = _tiny_archive(tmp_path / "src.tar.gz")
    home = tmp_path / "home"
    home.mkdir()
    name, folder = ARCHIVES["v0.02-test"]["file"], "speech_commands_v0.02-test"
    dead = 2**22 + 12345  # above Linux's pid_max: no such process
    stale = [home / f".{name}.{dead}.k3j2.part", home / f".{name}.x8f2a1bq.part"]
    stale[0].write_bytes(b"half an archive")
    stale[1].write_bytes(b"from an older sklkws")
    hour_ago = time.time() - 7200
    os.utime(stale[1], (hour_ago, hour_ago))
    scratch = home / f".{folder}.{dead}.q1.part"
    (scratch / "yes").mkdir(parents=True)
    live = home / f".{name}.{os.getpid()}.live.part"  # a download in progress right now
    live.write_bytes(b"still coming")
    fresh_old_style = home / f".{name}.abcdefgh.part"  # no pid, recently written: maybe in progress
    fresh_old_style.write_bytes(b"?")

    path = fetch_speech_commands(home, "v0.02-test", url=archive.as_uri(), checksum=None, progress=False)
    assert sorted(p.name for p in path.iterdir()) == ["no", "yes"]
    assert not any(p.exists() for p in stale) and not scratch.exists()
    assert live.exists() and fresh_old_style.exists()

    # A cached dataset cleans up too.
    stale[0].write_bytes(b"again")
    fetch_speech_commands(home, "v0.02-test", url=archive.as_uri(), checksum=None, progress=False)
    assert not stale[0].exists()


@pytest.mark.parametrize("y", [["yes", None, "no", "yes"], np.array(["yes", "no", None, "no"], dtype=object),
                               [1.0, np.nan, 0.0, 1.0]], ids=["list", "object", "float-nan"])
def test_missing_labels_named(y):
    X = np.zeros((4, 400), np.float32)
    with pytest.raises(ValueError, match=r"y holds .* in 1 row\(s\), first at row\(s\) \[\d\].*for Gain"):
        Gain().fit_resample(X, y)
    pytest.importorskip("keras")
    from sklkws.models import KerasResNetClassifier

    with pytest.raises(ValueError, match=r"y holds .* in 1 row\(s\).*for KerasResNetClassifier"):
        KerasResNetClassifier(epochs=1).fit(X, y)


def test_mixed_label_types_named():
    X = np.zeros((3, 400), np.float32)
    with pytest.raises(ValueError, match=r"mixes labels of types \['int', 'str'\]"):
        Gain().fit_resample(X, np.array(["a", 1, "b"], dtype=object))


def test_bare_classifier_from_another_sklearn_version_warns():
    import pickle
    import warnings

    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    pytest.importorskip("keras")
    from sklkws.models import KerasResNetClassifier

    data = pickle.dumps(KerasResNetClassifier(epochs=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        assert pickle.loads(data).epochs == 3  # the same version: silent
    other = "9" * len(sklearn.__version__)
    assert sklearn.__version__.encode() in data
    with pytest.warns(InconsistentVersionWarning, match=f"version {other} when using version"):
        pickle.loads(data.replace(sklearn.__version__.encode(), other.encode()))


# -- 8: Keras fits in concurrent threads ---------------------------------------------

def test_concurrent_thread_fits_match_a_sequential_fit():
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    pytest.importorskip("keras")
    from sklkws.models import KerasResNetClassifier

    X, y = _ckpt_clips()
    params = {**CKPT_PARAMS, "dropout": 0.3}  # dropout draws from the seeded generators
    alone = KerasResNetClassifier(**params).fit(X, y).predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "waits for a fit in another thread"
        with ThreadPoolExecutor(2) as pool:
            fits = list(pool.map(lambda _: KerasResNetClassifier(**params).fit(X, y), range(2)))
    for clf in fits:
        np.testing.assert_array_equal(clf.predict_proba(X), alone)
