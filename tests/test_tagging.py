"""The tagging seed's recipe: synthetic tagging data, trim + clip length, mixup and label smoothing
on multi-label targets, warm-start fine-tuning, and the whole crop/TTA/two-branch pipeline."""

import keras
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklkws.datasets._tagging import DEFAULT_TAGGING_LABELS, NOISE_TAGS, make_synthetic_tagging
from sklkws.ensemble import KerasTwoBranchClassifier, TTAClassifier, TwoBranchFeatures
from sklkws.features import GlobalStatFeatures, MelFeatures
from sklkws.models._data import TrainingBatches
from sklkws.preprocessing import TrimSilence

SR = 16000
NOISES = tuple(NOISE_TAGS)


@pytest.fixture(scope="module")
def tagging():
    return make_synthetic_tagging(24, duration=(1.0, 2.0), random_state=0, return_events=True)


# ------------------------------------------------------------------------ data


def test_synthetic_tagging_shapes_labels_and_padding(tagging):
    X, Y, lengths, names, events = tagging
    assert X.dtype == np.float32 and X.shape == (24, lengths.max()) and np.abs(X).max() <= 1
    assert list(names) == list(DEFAULT_TAGGING_LABELS) and Y.shape == (24, len(names))
    assert ((Y.sum(axis=1) >= 1) & (Y.sum(axis=1) <= 3)).all()
    assert lengths.min() >= SR and lengths.max() <= 2 * SR and len(set(lengths.tolist())) > 10
    for row, n in enumerate(lengths):
        assert not X[row, n:].any() and X[row, n - 100 : n].any()  # zero padding only past the clip
    # The labels are exactly what was mixed in, each event fully inside its clip.
    mixed = np.zeros_like(Y)
    mixed[events["clip"], events["label"]] = 1
    assert np.array_equal(mixed, Y)
    assert (events["onset"] >= 0).all() and (events["onset"] + events["length"] <= lengths[events["clip"]]).all()
    X2, Y2, _, _ = make_synthetic_tagging(24, duration=(1.0, 2.0), random_state=0)
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2)


def test_events_are_audible_and_noise_colours_differ():
    X, Y, lengths, names, events = make_synthetic_tagging(
        30, labels=NOISES, max_labels=1, duration=2.0, level_db=-20.0, random_state=1, return_events=True
    )
    spectra = {}
    for clip, label, onset, size in zip(events["clip"], events["label"], events["onset"], events["length"]):
        burst = X[clip, onset : onset + size]
        rest = np.concatenate([X[clip, :onset], X[clip, onset + size :]])
        snr_db = 20 * np.log10(np.sqrt(np.mean(burst**2)) / np.sqrt(np.mean(rest**2)))
        assert snr_db > 30  # far above the unlabelled floor
        power = np.abs(np.fft.rfft(burst[:4000])) ** 2
        spectra.setdefault(names[label], []).append(power[:250].sum() / power.sum())  # share below 1 kHz
    low = {name: np.mean(v) for name, v in spectra.items()}
    assert low["brown_noise"] > low["pink_noise"] > low["white_noise"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": ("yes", "yes")}, "duplicates"),
        ({"labels": ()}, "empty"),
        ({"max_labels": 20}, "exceeds"),
        ({"min_labels": 3, "max_labels": 2}, "max_labels"),
        ({"duration": (2.0, 1.0)}, "duration"),
        ({"n_clips": 0}, "n_clips"),
    ],
)
def test_synthetic_tagging_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_tagging(**{"n_clips": 2, **kwargs})


def test_trim_then_clip_length_feature_measures_the_events():
    X, Y, lengths, names, events = make_synthetic_tagging(
        12, labels=NOISES, min_labels=2, max_labels=3, duration=(2.0, 3.0), level_db=(-25.0, -15.0),
        random_state=2, return_events=True,
    )
    trimmed = TrimSilence(top_db=30, frame_length=512, hop_length=128).fit_transform(X)
    length_s = GlobalStatFeatures(n_frames=8, include_length=True).fit_transform(trimmed)[:, -1]
    first = np.full(len(X), np.inf)
    last = np.zeros(len(X))
    np.minimum.at(first, events["clip"], events["onset"])
    np.maximum.at(last, events["clip"], events["onset"] + events["length"])
    span_s = (last - first) / SR
    # The clip length after trimming is the span of the events, to within two analysis frames.
    assert np.all(np.abs(length_s - span_s) < 2 * 512 / SR)
    assert np.allclose(GlobalStatFeatures(n_frames=8, include_length=True).fit_transform(X)[:, -1], lengths / SR)


# ----------------------------------------------------- multi-label mixup, smoothing


def test_mixup_mixes_multilabel_targets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 10)).astype(np.float32)
    Y = (rng.random((32, 5)) < 0.4).astype(np.float32)
    batches = TrainingBatches(X, Y, np.ones(32, np.float32), rows=np.arange(32), batch_size=32, seed=0,
                              mixup_alpha=0.4)
    Xb, Yb, _ = batches[0]
    soft = (Yb > 0) & (Yb < 1)
    assert soft.any() and (Yb >= 0).all() and (Yb <= 1).all()
    # Each target row is lam * Y[i] + (1 - lam) * Y[j]: its fractional entries are lam and/or 1 - lam.
    for row in Yb:
        fractions = np.unique(row[(row > 0) & (row < 1)])
        assert len(fractions) <= 2 and (len(fractions) < 2 or np.isclose(fractions.sum(), 1))


def tiny_two_branch(**params):
    features = TwoBranchFeatures(MelFeatures(n_mels=16, hop_length=320), GlobalStatFeatures(8, include_length=True))
    arch = {"n_mels": 16, "n_stats": 97, "mel_params": {"filters": (4, 8)}, "stats_filters": (4,), "head_units": 8}
    clf = KerasTwoBranchClassifier(arch_params=arch, batch_size=16, run_eagerly=True, random_state=0, **params)
    return make_pipeline(features, clf)


def test_crop_tta_two_branch_pipeline_with_mixup_and_smoothing_on_multilabel(tagging):
    X, Y, *_ = tagging
    inner = tiny_two_branch(epochs=2, mixup_alpha=0.4, label_smoothing=0.1)
    model = make_pipeline(TrimSilence(top_db=40), TTAClassifier(inner, n_crops=3, crop_length=SR, random_state=0))
    model.fit(X, Y)
    clf = model[-1].estimator_[-1]
    loss = clf.model_.loss
    assert isinstance(loss, keras.losses.BinaryCrossentropy) and loss.get_config()["label_smoothing"] == 0.1
    assert clf.model_.output_shape == (None, Y.shape[1]) and len(clf.history_["loss"]) == 2
    assert clf.n_features_in_ == 16 * 51 + 97  # the crops, not the full clips
    proba = model.predict_proba(X[:5])
    assert proba.shape == (5, Y.shape[1]) and ((proba > 0) & (proba < 1)).all()
    assert model.predict(X[:5]).shape == (5, Y.shape[1])


# --------------------------------------------------------------- warm start


class WeightsAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]


def test_fine_tuning_starts_from_the_pretrained_weights():
    # Pretrain on a "noisy" set, fine-tune on a "curated" one, as the seed did.
    noisy, Y_noisy, *_ = make_synthetic_tagging(16, labels=NOISES, duration=1.0, random_state=3)
    curated, Y_curated, *_ = make_synthetic_tagging(16, labels=NOISES, duration=1.0, random_state=4)
    pipe = tiny_two_branch(epochs=1, warm_start=True).fit(noisy, Y_noisy)
    pretrained = [w.copy() for w in pipe[-1].model_.get_weights()]
    start = WeightsAtStart()
    pipe.set_params(kerastwobranchclassifier__callbacks=[start], kerastwobranchclassifier__learning_rate=1e-2)
    pipe.fit(curated, Y_curated)
    assert all(np.array_equal(a, b) for a, b in zip(start.weights, pretrained))
    assert not all(np.array_equal(a, b) for a, b in zip(pipe[-1].model_.get_weights(), pretrained))
    # Without warm_start the second fit starts from fresh weights.
    cold = WeightsAtStart()
    pipe.set_params(kerastwobranchclassifier__warm_start=False, kerastwobranchclassifier__callbacks=[cold],
                    kerastwobranchclassifier__random_state=1)
    pipe.fit(curated, Y_curated)
    assert not all(np.array_equal(a, b) for a, b in zip(cold.weights, pretrained))


# --------------------------------------------------------------- the ESC-10 benchmark's modes


def _tagging_benchmark():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "tagging.py"
    spec = importlib.util.spec_from_file_location("tagging_benchmark", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_esc10_benchmark_row_on_a_tiny_folder(tmp_path, capsys):
    """``benchmarks/tagging.py --data``: one ablation row on official-style folds, saved and reported."""
    import soundfile as sf

    bench = _tagging_benchmark()
    rng = np.random.default_rng(0)
    sr = 22050
    for label, freq in (("001 - Low", 300.0), ("002 - High", 3000.0), ("003 - Noise", None)):
        (tmp_path / "data" / label).mkdir(parents=True)
        for fold in (1, 2):
            for take in "AB":
                n = int(sr * rng.uniform(0.8, 1.2))
                x = rng.normal(0, 0.1, n) if freq is None else 0.3 * np.sin(2 * np.pi * freq * np.arange(n) / sr)
                sf.write(tmp_path / "data" / label / f"{fold}-{take}{freq}.wav", x, sr)
    out = tmp_path / "rows"
    bench.main(["--data", str(tmp_path / "data"), "--rows", "full", "--folds", "1", "--epochs", "1",
                "--crop", "0.5", "--filters", "4", "4", "4", "4", "--out", str(out)])
    row = np.load(out / "full.npz", allow_pickle=True)
    assert list(row["fold"]) == [1, 1, 2, 2] * 3 and list(row["done"]) == [True, True, False, False] * 3
    np.testing.assert_allclose(row["tta"][row["done"]].sum(axis=1), 1, atol=1e-5)  # softmax per clip
    assert not row["tta"][~row["done"]].any()  # fold 2 was not run
    assert "| full | 1 |" in capsys.readouterr().out


def test_esc10_benchmark_pairs_and_ensemble_report(tmp_path, capsys):
    bench = _tagging_benchmark()
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b", "c"], dtype=object), 8)
    X = rng.normal(size=(24, 50)).astype(np.float32)
    mixed, Y = bench.esc_pairs(X, y, np.arange(0, 24, 2), rng)
    assert mixed.shape == (12, 50) and (Y.sum(axis=1) == 2).all()  # two different classes in each clip
    assert (Y[np.arange(12), np.searchsorted(["a", "b", "c"], y[::2])] == 1).all()  # its own label is one
    assert np.abs(mixed).max() <= 1
    # Two saved rows over all folds: the report prints both and the mean vs stacker line.
    fold = np.tile([1, 2, 3], 8)
    onehot = (y[:, None] == np.array(["a", "b", "c"])[None, :]).astype(float)
    for name, noise in (("full", 0.3), ("no_se", 0.6)):
        tta = np.abs(onehot + rng.normal(0, noise, onehot.shape))
        tta /= tta.sum(axis=1, keepdims=True)
        np.savez(tmp_path / f"{name}.npz", y=y, fold=fold, done=np.ones(24, bool), tta=tta, single=tta,
                 classes=np.array(["a", "b", "c"], dtype=object), seconds=60.0)
    bench.esc_report(str(tmp_path), list(bench.ESC_ROWS))
    text = capsys.readouterr().out
    assert "| full | 1,2,3 |" in text and "| no_se | 1,2,3 |" in text
    assert "ensemble of 2 rows (full, no_se)" in text and "NeuralStacker" in text
