"""One validation regime: parameter constraints, checked once per fit and not per batch."""

import inspect
import numbers

import numpy as np
import pytest
from imblearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import check_param_validation

from sklkws._compat import InvalidParameterError, _Constraint, validate_parameter_constraints
from sklkws._validation import NumberOrPair
from sklkws.augment import AddNoise, AugmentChain, Gain, SpecAugment, SpeedPerturb, TimeShift, TimeStretch
from sklkws.datasets import load_audio_folder, load_speech_commands

SAMPLER_CLASSES = [AddNoise, AugmentChain, Gain, SpecAugment, SpeedPerturb, TimeShift, TimeStretch]


def _sampler(cls):
    return cls([Gain(), (TimeShift(), 0.5)]) if cls is AugmentChain else cls()


# -- the number-or-pair constraint -----------------------------------------------------


@pytest.mark.parametrize("value, ok", [
    (10.0, True), (-60, True), (120.0, True), ((5, 30), True), ([5.0, 5.0], True),
    (np.array([0.0, 1.0]), True), (np.float32(3.0), True),
    ((30, 5), False), (121.0, False), ((-61, 0), False), (True, False), ((True, 2), False),
    ("10", False), ((1, 2, 3), False), (np.nan, False), ((0.0, np.nan), False), (None, False),
    (np.zeros((2, 2)), False),
])
def test_number_or_pair_accepts_numbers_and_ordered_pairs(value, ok):
    assert NumberOrPair(numbers.Real, -60, 120).is_satisfied_by(value) is ok


def test_number_or_pair_integer_and_unbounded():
    ints = NumberOrPair(numbers.Integral, 0, None, closed="left")
    assert ints.is_satisfied_by(3) and ints.is_satisfied_by((0, 8))
    assert not ints.is_satisfied_by(2.5) and not ints.is_satisfied_by((0, 8.0)) and not ints.is_satisfied_by(-1)
    finite = NumberOrPair(numbers.Real, None, None, closed="neither")
    assert finite.is_satisfied_by((-1e9, 1e9)) and not finite.is_satisfied_by((0.0, np.inf))
    assert isinstance(ints, _Constraint)
    assert NumberOrPair.as_pair(4) == (4, 4) and NumberOrPair.as_pair([1, 2]) == (1, 2)


def test_number_or_pair_message_in_sklearn_style():
    with pytest.raises(InvalidParameterError) as err:
        validate_parameter_constraints(
            {"snr_db": [NumberOrPair(numbers.Real, -60, 120)]}, {"snr_db": (10, 5)}, caller_name="AddNoise"
        )
    assert str(err.value) == (
        "The 'snr_db' parameter of AddNoise must be a float in the range [-60.0, 120.0] or a "
        "(low, high) pair of them with low <= high. Got (10, 5) instead."
    )
    assert isinstance(err.value, ValueError)


# -- every sampler declares its constraints ---------------------------------------------


@pytest.mark.parametrize("cls", SAMPLER_CLASSES, ids=lambda c: c.__name__)
def test_samplers_constrain_every_parameter(cls):
    params = set(inspect.signature(cls).parameters)
    assert set(cls._parameter_constraints) == params


@pytest.mark.parametrize("cls", SAMPLER_CLASSES, ids=lambda c: c.__name__)
def test_sklearn_param_validation_check(cls):
    # scikit-learn's own check: invalid values for every constrained parameter raise in fit.
    check_param_validation(cls.__name__, _sampler(cls))


def test_hard_negatives_is_an_estimator_with_constraints():
    from sklearn.base import clone

    from sklkws.augment import HardNegatives, hard_negative_windows

    speech = np.zeros(40000, np.float32)
    check_param_validation("HardNegatives", HardNegatives(speech))
    twin = clone(HardNegatives(speech, n_windows=4))
    assert twin.get_params()["n_windows"] == 4
    X, y = np.zeros((4, 16000), np.float32), np.array(["yes"] * 4)
    with pytest.raises(InvalidParameterError, match="'n_windows' parameter of HardNegatives"):
        HardNegatives(speech, n_windows=-0.5).fit_resample(X, y)
    with pytest.raises(InvalidParameterError, match="'n_windows' parameter of hard_negative_windows"):
        hard_negative_windows(speech, -1)


# -- once per parameter values, not per batch --------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: Gain(),
    lambda: AugmentChain([(AddNoise(), 0.5), TimeShift(), (Gain(), 0.5)]),
], ids=["Gain", "AugmentChain"])
def test_augment_validates_once_not_per_batch(make, monkeypatch):
    sampler = make()
    calls = []
    original = type(sampler)._check_params
    monkeypatch.setattr(type(sampler), "_check_params", lambda self: calls.append(1) or original(self))
    X = np.random.default_rng(0).normal(0, 0.1, (8, 800)).astype(np.float32)
    for seed in range(20):  # twenty batches of an epoch
        sampler.augment(X, random_state=seed)
    assert len(calls) == 1
    sampler.fit_resample(X, [0, 1] * 4)  # fit always validates
    assert len(calls) == 2


def test_reassigned_parameter_is_validated_again():
    X = np.zeros((2, 400), dtype=np.float32)
    gain = Gain(gain_db=(-6.0, 6.0))
    gain.augment(X, 0)
    gain.set_params(gain_db=(10.0, 5.0))
    with pytest.raises(ValueError, match="'gain_db' parameter of Gain"):
        gain.augment(X, 0)
    gain.gain_db = -20.0  # plain attribute: seen too, and the derived pair follows
    np.testing.assert_allclose(gain.augment(np.ones((2, 4), np.float32), 0), 0.1, rtol=1e-6)
    chain = AugmentChain([Gain(), (TimeShift(), 0.5)])
    chain.augment(X, 0)
    chain.set_params(gain__gain_db=1000.0)  # a step's parameter, reached through the chain
    with pytest.raises(ValueError, match="'gain_db' parameter of Gain"):
        chain.augment(X, 0)
    chain.set_params(gain__gain_db=0.0, timeshift__p=1.5)
    with pytest.raises(ValueError, match=r"probability of step 1 \(timeshift__p\)"):
        chain.augment(X, 0)


def test_pickled_sampler_drops_the_validation_cache():
    import pickle

    noise = AddNoise([np.ones(1000, np.float32)])
    noise.augment(np.full((2, 400), 0.1, np.float32), 0)
    assert "_params_checked" not in pickle.loads(pickle.dumps(noise)).__dict__


# -- AugmentChain composes like Pipeline ---------------------------------------------------


def test_chain_nested_parameters_through_a_search():
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.1, (40, 200)).astype(np.float32)
    X[:20] *= 3
    y = np.repeat([0, 1], 20)
    pipe = make_pipeline(AugmentChain([(AddNoise(), 0.5), Gain()], random_state=0),
                         LogisticRegression(max_iter=200))
    params = pipe.get_params(deep=True)
    assert isinstance(params["augmentchain__addnoise"], AddNoise)
    assert params["augmentchain__addnoise__p"] == 0.5  # the pair's probability
    grid = {"augmentchain__addnoise__snr_db": [(0, 5), 40.0], "augmentchain__addnoise__p": [0.0, 1.0]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_[0]
    assert best.steps[0][0].snr_db == search.best_params_["augmentchain__addnoise__snr_db"]
    assert best.steps[0][1] == search.best_params_["augmentchain__addnoise__p"]


def test_chain_replaces_a_whole_step_by_name():
    chain = AugmentChain([(AddNoise(), 0.3), Gain()])
    chain.set_params(addnoise=AddNoise("pink"), gain=TimeShift())
    assert chain.steps[0][0].noise == "pink" and chain.steps[0][1] == 0.3
    assert isinstance(chain.steps[1], TimeShift)
    chain.set_params(steps=[Gain()], gain__gain_db=1.0)  # steps first, then their parameters
    assert chain.steps[0].gain_db == 1.0


# -- public functions ---------------------------------------------------------------------


@pytest.mark.parametrize("call, match", [
    (lambda p: load_speech_commands(p, n_silence=-1), "'n_silence' parameter of load_speech_commands"),
    (lambda p: load_speech_commands(p, on_error="ignore"), "'on_error' parameter of load_speech_commands"),
    (lambda p: load_audio_folder(p, duration=0), "'duration' parameter of load_audio_folder"),
    (lambda p: load_audio_folder(p, sample_rate=8000.0), "'sample_rate' parameter of load_audio_folder"),
    (lambda p: load_audio_folder(3), "'path' parameter of load_audio_folder"),
    (lambda p: load_audio_folder(p, tolerance=-1.0), "'tolerance' parameter of load_audio_folder"),
    (lambda p: load_speech_commands(p, crop="centre"), "'crop' parameter of load_speech_commands"),
])
def test_loaders_validate_simple_arguments(call, match, tmp_path):
    with pytest.raises(InvalidParameterError, match=match):
        call(tmp_path)


def test_tuning_functions_validate_their_arguments(tmp_path):
    import optuna

    from sklkws.tuning import default_search_space, save_study_plots
    from sklkws.tuning._worker import check_memory_budget, tune_main

    # Refused before the storage is contacted or any clip is counted.
    with pytest.raises(InvalidParameterError, match="'epochs' parameter of tune_main"):
        tune_main(f"sqlite:///{tmp_path / 'never.db'}", tmp_path, 3, epochs=0)
    with pytest.raises(InvalidParameterError, match="'factor' parameter of check_memory_budget"):
        check_memory_budget(tmp_path, factor=0)
    with pytest.raises(InvalidParameterError, match="'prefix' parameter of default_search_space"):
        default_search_space(None)
    with pytest.raises(InvalidParameterError, match="'dpi' parameter of save_study_plots"):
        save_study_plots(optuna.create_study(), tmp_path, dpi=0)
    assert not (tmp_path / "never.db").exists()
