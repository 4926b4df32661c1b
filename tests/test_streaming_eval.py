"""Streams with ground truth, the one-pass DET evaluation, calibration, files and the fake microphone."""

import wave

import numpy as np
import pytest
import soundfile

from sklkws.streaming import (KeywordSpotter, KeywordTruth, StreamingResult, calibrate_spotter, evaluate_spotter,
                              listen_main, load_negative_audio, make_keyword_stream, microphone_chunks, read_wav)

SR = 16000
CODES = {"yes": 0.3, "no": 0.6}  # a keyword is a 0.25 s stretch of its code value
SEG = SR // 4


class CodeModel:
    """A fake clip classifier: a keyword's posterior is the share of its code segment in the window."""

    classes_ = np.array(["_silence_", "no", "yes"])
    n_samples_ = SR
    sample_rate_ = SR

    def __init__(self):
        self.windows = 0
        self.calls = 0

    def predict_proba(self, X):
        X = np.asarray(X)
        self.calls += 1
        self.windows += len(X)
        share = {k: np.minimum(np.isclose(X, c, atol=1e-4).sum(axis=1) / SEG, 1.0) * 0.98 for k, c in CODES.items()}
        P = np.stack([np.zeros(len(X)), share["no"], share["yes"]], axis=1)
        P[:, 0] = 1.0 - P[:, 1:].sum(axis=1)
        return P


def clips(n_per_word=4):
    X, y = [], []
    for word, code in CODES.items():
        for _ in range(n_per_word):
            clip = np.zeros(SR, dtype=np.float32)
            clip[SR // 2 - SEG // 2: SR // 2 + SEG // 2] = code
            X.append(clip)
            y.append(word)
    X.append(np.zeros(SR, dtype=np.float32))
    y.append("_unknown_")
    return np.array(X), np.array(y)


def negatives():
    """Keyword-free audio with three partial 'yes' stretches (40 %, 60 %, 80 % of a keyword): graded false alarms."""
    audio = np.zeros(30 * SR, dtype=np.float32)
    for second, share in ((5, 0.4), (15, 0.6), (25, 0.8)):
        audio[second * SR: second * SR + int(share * SEG)] = CODES["yes"]
    return [audio[:12 * SR], audio[12 * SR:]]


def test_stream_truth_is_where_the_clips_are():
    X, y = clips()
    audio, truth = make_keyword_stream(X, y, gap=(0.5, 1.5), random_state=3)
    again, truth2 = make_keyword_stream(X, y, gap=(0.5, 1.5), random_state=3)
    np.testing.assert_array_equal(audio, again)
    assert truth == truth2 and len(truth) == 8 and {t.keyword for t in truth} == set(CODES)
    for start, end, word in truth:
        segment = audio[int(round(start * SR)): int(round(end * SR))]
        assert end - start == pytest.approx(1.0)
        assert np.isclose(segment, CODES[word]).sum() == SEG
    starts = np.array([t.start for t in truth])
    gaps = starts[1:] - starts[:-1] - 1.0
    assert ((gaps >= 0.5 - 1e-3) & (gaps <= 1.5 + 1e-3)).all()


def test_stream_levels_and_speech_only_in_the_gaps():
    X, y = clips()
    rng = np.random.default_rng(0)
    speech = rng.standard_normal(3 * SR).astype(np.float32)
    audio, truth = make_keyword_stream(X, y, speech=speech, speech_db=-6.0, random_state=0)
    in_clip = np.zeros(len(audio), bool)
    for start, end, _ in truth:
        in_clip[int(round(start * SR)): int(round(end * SR))] = True
    level = np.sqrt(np.mean(X[y != "_unknown_"].astype(np.float64) ** 2, axis=1)).mean()
    assert np.sqrt(np.mean(audio[~in_clip] ** 2)) == pytest.approx(level * 10 ** (-6 / 20), rel=0.05)
    for start, end, word in truth:  # the clips are untouched by the speech
        segment = audio[int(round(start * SR)): int(round(end * SR))]
        assert np.isclose(segment, CODES[word]).sum() == SEG
    noisy, _ = make_keyword_stream(X, y, background=speech, background_db=-20.0, random_state=0)
    assert np.sqrt(np.mean((noisy - make_keyword_stream(X, y, random_state=0)[0]) ** 2)) == pytest.approx(
        level * 0.1, rel=0.05)


def test_stream_bad_input():
    X, y = clips()
    with pytest.raises(ValueError, match="No clip is labelled with a keyword"):
        make_keyword_stream(X, y, keywords=["stop"])
    with pytest.raises(ValueError, match="gap"):
        make_keyword_stream(X, y, gap=(2.0, 1.0))
    with pytest.raises(ValueError, match="n_keywords"):
        make_keyword_stream(X, y, n_keywords=100)
    with pytest.raises(ValueError, match="one label each"):
        make_keyword_stream(X, y[:3])


def test_posteriors_once_then_any_threshold():
    X, y = clips()
    audio, _ = make_keyword_stream(X, y, random_state=1)
    model = CodeModel()
    spotter = KeywordSpotter(model, hop=0.1, smoothing=0.3)
    P = spotter.window_posteriors(audio)
    assert model.windows == len(P) == len(spotter.window_starts(len(audio)))
    calls = model.windows
    for threshold in (0.3, 0.5, 0.9):
        assert spotter.events_from_posteriors(P, threshold=threshold) == \
            KeywordSpotter(model, hop=0.1, smoothing=0.3, threshold=threshold).detect(audio)
    decoded, streamed = spotter.events_from_posteriors(P), list(spotter.stream(np.array_split(audio, 37)))
    assert [e[:2] for e in decoded] == [e[:2] for e in streamed] and len(decoded) == 8
    np.testing.assert_allclose([e.score for e in decoded], [e.score for e in streamed], rtol=1e-9)
    assert model.windows > calls  # detect and stream ran the model; events_from_posteriors did not
    with pytest.raises(ValueError, match="shape"):
        spotter.events_from_posteriors(P[:, :1])


def test_evaluation_is_one_pass_and_counts_right():
    X, y = clips()
    positives = [make_keyword_stream(X, y, random_state=s) for s in (0, 1)]
    model = CodeModel()
    spotter = KeywordSpotter(model, hop=0.1, smoothing=0.3)
    neg = negatives()
    expected_windows = sum(len(spotter.window_starts(len(a))) for a in [p[0] for p in positives] + neg)
    result = evaluate_spotter(spotter, positives, neg, thresholds=[0.3, 0.5, 0.7, 0.99])
    assert model.windows == expected_windows  # four thresholds, one pass
    assert isinstance(result, StreamingResult) and result.n_keywords == 16
    np.testing.assert_array_equal(result.n_hits, [16, 16, 16, 0])  # the posterior plateau is 0.98
    np.testing.assert_allclose(result.frr, [0, 0, 0, 1])
    # Partial keywords in the negatives: 40/60/80 % of 0.98 -> 3 alarms at 0.3, 2 at 0.5, 1 at 0.7.
    np.testing.assert_array_equal(result.n_false_alarms, [3, 2, 1, 0])
    hours = 30 / 3600
    np.testing.assert_allclose(result.fa_per_hour, np.array([3, 2, 1, 0]) / hours)
    assert result.negative_hours == pytest.approx(hours) and result.rtf > 0
    assert (result.n_wrong == 0).all() and (result.n_insertions == 0).all()
    assert "| 0.500 | 0.0 % |" in result.table()
    assert "0.008 h of negatives (one false alarm is 120.00 FA/h)" in result.summary()


def test_tolerance_and_wrong_keywords():
    X, y = clips()
    audio, truth = make_keyword_stream(X, y, gap=(1.5, 1.5), random_state=0)
    spotter = KeywordSpotter(CodeModel(), hop=0.1, smoothing=0.3)
    late = [KeywordTruth(t.start + 0.9, t.end + 0.9, t.keyword) for t in truth]  # event at ~0.5 s is 0.4 s early
    strict = evaluate_spotter(spotter, (audio, late), negatives(), thresholds=[0.5], tolerance=0.25)
    loose = evaluate_spotter(spotter, (audio, late), negatives(), thresholds=[0.5], tolerance=0.6)
    assert strict.n_hits[0] == 0 and strict.n_insertions[0] == len(truth)
    assert loose.n_hits[0] == len(truth) and loose.n_insertions[0] == 0
    swapped = [t._replace(keyword="no" if t.keyword == "yes" else "yes") for t in truth]
    wrong = evaluate_spotter(spotter, (audio, swapped), negatives(), thresholds=[0.5])
    assert wrong.n_hits[0] == 0 and wrong.n_wrong[0] == len(truth) and wrong.frr[0] == 1.0
    with pytest.raises(ValueError, match="tolerance"):
        evaluate_spotter(spotter, (audio, truth), negatives(), tolerance=-1)
    with pytest.raises(ValueError, match="thresholds"):
        evaluate_spotter(spotter, (audio, truth), negatives(), thresholds=[1.5])


def test_frr_at_interpolates_the_lower_envelope():
    result = StreamingResult(thresholds=np.array([0.5, 0.7, 0.8, 0.9]), frr=np.array([0.05, 0.1, 0.3, 1.0]),
                             fa_per_hour=np.array([10.0, 4.0, 2.0, 0.5]))
    assert result.frr_at(2.0) == pytest.approx(0.3)
    assert result.frr_at(3.0) == pytest.approx(0.2)  # halfway between (2, 0.3) and (4, 0.1)
    assert result.frr_at(100.0) == pytest.approx(0.05)
    assert np.isnan(result.frr_at(0.1))  # below the lowest rate reached
    np.testing.assert_allclose(result.frr_at([1.0, 4.0]), [0.3 + (1.0 - 0.3) * 1 / 1.5, 0.1])


def test_calibration_meets_the_target_or_says_why():
    spotter = KeywordSpotter(CodeModel(), hop=0.1, smoothing=0.3)
    neg = negatives()
    hours = 30 / 3600
    point = calibrate_spotter(spotter, neg, target_fa_per_hour=1.5 / hours, thresholds=[0.3, 0.5, 0.7, 0.9])
    assert point["threshold"] == 0.7 and point["fa_per_hour"] == pytest.approx(1 / hours)
    assert point["hop"] == 0.1 and point["smoothing"] == 0.3
    X, y = clips()
    pos = make_keyword_stream(X, y, random_state=0)
    chosen = calibrate_spotter(spotter, neg, target_fa_per_hour=1.5 / hours, positives=pos,
                               thresholds=[0.3, 0.5, 0.7, 0.9], smoothings=[0.1, 0.3, 0.6])
    assert chosen["fa_per_hour"] <= 1.5 / hours and chosen["frr"] == 0.0
    with pytest.raises(ValueError, match="No threshold up to 0.5 meets"):
        calibrate_spotter(spotter, neg, target_fa_per_hour=0.0, thresholds=[0.3, 0.5])


def test_empty_short_and_bad_audio():
    model = CodeModel()
    spotter = KeywordSpotter(model)
    assert spotter.detect(np.zeros(0, dtype=np.float32)) == []  # no window, no event at 0.5 s
    assert list(spotter.stream([])) == [] and model.windows == 0
    short = np.zeros(SR // 2, dtype=np.float32)
    short[1000:1000 + SEG] = CODES["no"]
    assert [e.keyword for e in spotter.detect(short)] == ["no"]  # zero padded to one window
    with pytest.raises(ValueError, match="NaN or infinity"):
        spotter.detect(np.r_[np.zeros(7), np.inf, np.zeros(SR)])
    with pytest.raises(ValueError, match="integer PCM cast to float"):
        spotter.detect(np.full(SR, 3e5))
    pcm = np.zeros(SR // 2, dtype=np.int32)
    pcm[1000:1000 + SEG] = int(CODES["no"] * 2 ** 31)  # 32-bit PCM is scaled by its full range
    assert [e.keyword for e in spotter.detect(pcm)] == ["no"]
    with pytest.raises(ValueError, match="mono"):
        spotter.detect(np.zeros((SR, 2)))


def test_wav_files_need_only_the_wave_module(tmp_path):
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(SR)).clip(-1, 1).astype(np.float32)
    soundfile.write(tmp_path / "a.wav", np.stack([x, x], axis=1), SR, subtype="PCM_16")
    samples, rate = read_wav(tmp_path / "a.wav")
    reference, _ = soundfile.read(tmp_path / "a.wav", dtype="float32")
    assert rate == SR and samples.shape == (SR,)
    np.testing.assert_allclose(samples, reference.mean(axis=1), atol=1e-6)
    for subtype, width in (("PCM_24", 3), ("PCM_U8", 1)):
        soundfile.write(tmp_path / "b.wav", x, SR, subtype=subtype)
        np.testing.assert_allclose(read_wav(tmp_path / "b.wav")[0], soundfile.read(tmp_path / "b.wav")[0],
                                   atol=1e-6)
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="not a PCM WAV"):
        read_wav(tmp_path / "junk.wav")


def test_negative_folders(tmp_path):
    folder = tmp_path / "neg"
    (folder / "sub").mkdir(parents=True)
    soundfile.write(folder / "one.wav", np.zeros(SR), SR, subtype="PCM_16")
    soundfile.write(folder / "sub" / "two.flac", 0.1 * np.ones((SR // 2, 2)), SR)
    (folder / "notes.txt").write_text("transcripts")
    audio = load_negative_audio(folder)
    assert [len(a) for a in audio] == [SR, SR // 2]
    np.testing.assert_allclose(audio[1], 0.1, atol=1e-4)  # stereo mixed down
    soundfile.write(folder / "fast.wav", np.zeros(SR), 8000, subtype="PCM_16")
    with pytest.raises(ValueError, match="8000 Hz, not 16000 Hz"):
        load_negative_audio(folder)
    assert len(load_negative_audio(folder, resample=True)) == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no audio files"):
        load_negative_audio(tmp_path / "empty")


class FakeSoundDevice:
    """Stands in for the sounddevice module: an input stream that plays an array through the callback."""

    def __init__(self, audio, has_input=True):
        self.audio, self.has_input = audio, has_input

    def query_devices(self, device=None, kind=None):
        if not self.has_input:
            raise ValueError("No input device matching")
        return {"name": "fake"}

    def InputStream(self, *, samplerate, channels, dtype, blocksize, device, callback):
        fake = self

        class Stream:
            def __enter__(self):
                for i in range(0, len(fake.audio), blocksize):
                    block = fake.audio[i:i + blocksize]
                    callback(block[:, None].astype(dtype), len(block), None, None)
                return self

            def __exit__(self, *exc):
                return False

        return Stream()


def test_fake_microphone(tmp_path, capsys):
    X, y = clips()
    audio, truth = make_keyword_stream(X, y, random_state=0)
    chunks = list(microphone_chunks(SR, blocksize=1600, duration=len(audio) / SR, sounddevice=FakeSoundDevice(audio)))
    np.testing.assert_array_equal(np.concatenate(chunks), audio)
    import joblib

    model = tmp_path / "model.joblib"
    joblib.dump(CodeModel(), model)
    events = listen_main(model, mic=True, duration=len(audio) / SR, sounddevice=FakeSoundDevice(audio))
    assert [e.keyword for e in events] == [t.keyword for t in truth]
    assert "8 keyword(s) heard" in capsys.readouterr().out
    with pytest.raises(ValueError, match="No audio input device"):
        listen_main(model, mic=True, duration=1.0, sounddevice=FakeSoundDevice(audio, has_input=False))
    with pytest.raises(ValueError, match="either an audio file or --mic"):
        listen_main(model)


def test_hard_negative_windows_are_cut_from_the_speech():
    from sklkws.augment import HardNegatives, hard_negative_windows

    long, short = np.arange(10 * SR, dtype=np.float32), -np.arange(2 * SR, dtype=np.float32) - 1
    windows = hard_negative_windows([long, short, np.ones(100)], 900, n_samples=SR, random_state=0)
    assert windows.shape == (900, SR)
    np.testing.assert_array_equal(np.diff(np.abs(windows), axis=1), 1)  # contiguous stretches of one recording
    from_short = (windows[:, 0] < 0).mean()  # drawn in proportion to the start offsets each recording has
    assert from_short == pytest.approx((SR + 1) / (10 * SR - SR + 1 + SR + 1), abs=0.04)
    np.testing.assert_array_equal(windows, hard_negative_windows([long, short, np.ones(100)], 900, n_samples=SR,
                                                                 random_state=0))
    X, y = np.zeros((20, SR), dtype=np.float32), np.array(["yes"] * 20)
    X2, y2 = HardNegatives(long, n_windows=0.5, random_state=0).fit_resample(X, y)
    assert X2.shape == (30, SR) and (y2[20:] == "_unknown_").all() and (y2[:20] == "yes").all()
    with pytest.raises(ValueError, match="no recording of at least"):
        hard_negative_windows([np.ones(10)], 3, n_samples=SR)


def test_det_and_timeline_pictures(tmp_path):
    from sklkws.plotting import plot_det, plot_detection_timeline

    X, y = clips()
    audio, truth = make_keyword_stream(X, y, random_state=0)
    spotter = KeywordSpotter(CodeModel(), hop=0.1, smoothing=0.3)
    result = evaluate_spotter(spotter, (audio, truth), negatives(), thresholds=[0.3, 0.5, 0.7, 0.99])
    fig = plot_det([result, result], path=tmp_path / "det.png", labels=["a", "b"])
    assert (tmp_path / "det.png").stat().st_size > 0 and len(fig.axes[0].lines) >= 2
    fig = plot_detection_timeline(spotter, audio, truth=truth, path=tmp_path / "timeline.png", start=0.0,
                                  duration=10.0)
    assert (tmp_path / "timeline.png").stat().st_size > 0
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert set(texts) <= set(CODES) and texts  # the events in the first 10 s, labelled with their keyword
    with pytest.raises(ValueError, match="labels has 1 entries for 2 results"):
        plot_det([result, result], labels=["a"])
    with pytest.raises(ValueError, match="outside the audio"):
        plot_detection_timeline(spotter, audio, start=1e4)
