"""vqcodec.ecg.ratecontrol: the guided search finds what exhaustive search finds, each level measured once."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vqcodec.ecg.ratecontrol import cheapest_level


def run(true: list[float], target: float, predicted: list[float] | None) -> tuple[int, list[int]]:
    trials: list[int] = []

    def measure(i: int) -> float:
        trials.append(i)
        return true[i]

    return cheapest_level(len(true), measure, target, predicted), trials


def exhaustive(true: list[float], target: float) -> int:
    return next((i for i, p in enumerate(true) if not p > target), len(true) - 1)


falling = st.lists(st.floats(0.01, 50), min_size=1, max_size=30, unique=True).map(lambda v: sorted(v, reverse=True))


@settings(max_examples=300, deadline=None)
@given(true=falling, target=st.floats(0.005, 60), noise=st.floats(0, 1), seed=st.integers(0, 2**32 - 1),
       guided=st.booleans())
def test_it_finds_the_exhaustive_answer_measuring_each_level_once(true, target, noise, seed, guided):
    rng = np.random.default_rng(seed)  # a prediction off by up to e**noise, level by level
    predicted = list(np.array(true) * np.exp(rng.uniform(-noise, noise, len(true)))) if guided else None
    level, trials = run(true, target, predicted)
    assert level == exhaustive(true, target)
    assert len(trials) == len(set(trials))
    budget = math.ceil(math.log2(len(true) + 1))
    assert len(trials) <= (2 * budget if guided else budget)


@settings(max_examples=200, deadline=None)
@given(true=falling, target=st.floats(0.005, 60), scale=st.floats(0.5, 2))
def test_an_exact_prediction_costs_two_trials_and_one_off_by_a_factor_three(true, target, scale):
    assume(all(not math.isclose(p, target) for p in true))  # a tie is decided by rounding in the scaled prediction
    assert len(run(true, target, true)[1]) <= 2  # the boundary and the level below it
    level, trials = run(true, target, [p * scale for p in true])  # the first trial measures the factor
    assert level == exhaustive(true, target) and len(trials) <= 3


def test_nan_counts_as_meeting_the_target_and_an_unreachable_target_gives_the_top_level():
    assert run([math.nan] * 5, 1.0, [3.0, 2.0, 1.5, 1.0, 0.5])[0] == 0
    level, trials = run([9.0, 8.0, 7.0], 1.0, [9.0, 8.0, 7.0])
    assert level == 2 and trials == [2]
