"""The recommended pipeline's members: what each one changes, and refused member lists."""

import numpy as np
import pytest

from sklkws.recipes import (MICRO_STUDENT, RECOMMENDED_ARCH, RECOMMENDED_MEMBERS, recommended_classifier,
                            recommended_pipeline)


def _members(pipe):
    return [net for _, net in pipe[-1].estimators]


def test_default_vote_has_the_recommended_members_with_their_own_seeds():
    nets = _members(recommended_pipeline(epochs=1, random_state=5))
    assert len(nets) == len(RECOMMENDED_MEMBERS) == 3
    assert [net.random_state for net in nets] == [5, 6, 7]
    assert [(net.arch, net.arch_params["stem2d"], net.frontend.n_mels) for net in nets] == [
        ("tcresnet", 8, 40), ("tcresnet", 8, 40), ("tcresnet", 0, 64)]
    assert {net.arch_params["width"] for net in nets} == {RECOMMENDED_ARCH[1]["width"]}  # merged, not replaced


def test_member_params_override_the_shared_parameters_per_member():
    pipe = recommended_pipeline(n_members=2, epochs=3, arch_params={"width": 1.0},
                                member_params=[{"epochs": 5}, {"arch_params": {"kernel_size": 7}, "mixup_alpha": 0.2}])
    first, second = _members(pipe)
    assert (first.epochs, first.mixup_alpha, first.arch_params["width"]) == (5, 0.0, 1.0)
    assert (second.epochs, second.mixup_alpha) == (3, 0.2)
    assert second.arch_params == {**RECOMMENDED_ARCH[1], "width": 1.0, "kernel_size": 7, "bn_momentum": 0.99}


def test_equal_members_and_other_architectures_get_no_mix():
    same = _members(recommended_pipeline(member_params=[{}] * 3, epochs=1))
    assert {(net.arch_params["stem2d"], net.frontend.n_mels) for net in same} == {(8, 40)}
    res = _members(recommended_pipeline(arch="res2d", arch_params={"filters": 8}, epochs=1))
    assert {net.frontend.n_mels for net in res} == {40} and all("stem2d" not in net.arch_params for net in res)
    single = recommended_pipeline(n_members=1, epochs=1)[-1]
    assert (single.arch_params["stem2d"], single.frontend.n_mels) == (8, 40)


def test_distilled_student_follows_the_shared_parameters_not_a_member():
    model = recommended_pipeline(distill=True, epochs=1, random_state=0)[-1]
    assert (model.student.arch_params["stem2d"], model.student.frontend.n_mels, model.student.random_state) == (8, 40, 3)
    # The teachers must see the student's features: the third member keeps its architecture, not its 64 bands.
    teachers = [net for _, net in model.teacher.estimators]
    assert [(net.arch_params["stem2d"], net.frontend.n_mels) for net in teachers] == [(8, 40), (8, 40), (0, 40)]
    vote = recommended_pipeline(epochs=1, random_state=0)[-1]
    assert vote.estimators[2][1].frontend.n_mels == 64  # without distillation the vote is the recommended one


@pytest.mark.parametrize("member_params", [[{}, {}], [{}, {}, "mixup"], [{}] * 4])
def test_member_lists_of_the_wrong_length_or_type_are_refused(member_params):
    with pytest.raises(ValueError, match="member_params must be a list of n_members=3 dicts"):
        recommended_pipeline(member_params=member_params)


def test_the_micro_student_fits_the_micro_budget_int8(tmp_path):
    """Size and compute do not depend on training: one epoch on noise stands in for the 240."""
    from sklkws.export import export_compact

    rng = np.random.default_rng(0)
    X = (0.1 * rng.standard_normal((48, 16000))).astype(np.float32)
    y = np.repeat([f"w{i}" for i in range(12)], 4)  # the speech task's 12 classes: the last layer's size
    net = recommended_classifier(**{**MICRO_STUDENT, "epochs": 1}, random_state=0).fit(X, y)
    assert 130_000 < net.model_.count_params() < 150_000
    report = export_compact(net, tmp_path / "micro.tflite", "int8", X, budget="micro", check=False,
                            n_runs=3, verbose=False)
    assert report["size_bytes"] <= 250_000, report
    assert report["failures"] == []  # size, estimated Pi 3 latency and int8: no parity clips are left
