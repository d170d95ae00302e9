"""Rate control: the cheapest setting whose measured distortion meets a target, in few trials.

Each trial is a real compress and decode, so trials are what `--max-prdn` costs. `cheapest_level` searches the
quality ladder: its calibrated val PRDN, scaled by what the trials measured on this record, predicts where the
target falls. `largest_bound` searches the residual layer's error bound E (the larger, the fewer bytes): a power
law through what the trials measured predicts it. Every guess is checked by a trial, so each answer is the one a
binary search over the same measurements gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def cheapest_level(n: int, measure: Callable[[int], float], target: float,
                   predicted: Sequence[float] | None = None) -> int:
    """Index of the cheapest of n levels whose measure(i) is at most target (NaN counts as meeting it), the
    measure assumed to fall as i rises; n - 1 when none meets it. Each level is measured at most once.

    predicted: the levels' expected values (the ladder's val PRDN), or None for plain bisection. Guided by it,
    the search bisects once it has made as many trials as bisection would need, so a poor prediction costs at
    most twice bisection's trials, while a good one needs 2-3.
    """
    miss, meet = -1, n  # highest level known to miss the target, lowest known to meet it
    measured: dict[int, float] = {}
    budget = math.ceil(math.log2(n + 1))
    while meet - miss > 1:
        guess = None if predicted is None or len(measured) >= budget else _guess(
            miss, meet, measured, predicted, target)
        i = (miss + meet) // 2 if guess is None else guess
        measured[i] = measure(i)
        if measured[i] > target:
            miss = i
        else:
            meet = i
    return min(meet, n - 1)


def _guess(miss: int, meet: int, measured: dict[int, float], predicted: Sequence[float],
           target: float) -> int | None:
    """The level in (miss, meet) where the target should fall: predicted values times this record's ratio of
    measured to predicted at the interval's measured ends (geometric mean of the two); None when there is no
    usable prediction."""
    logs = [math.log(measured[i] / predicted[i]) for i in (miss, meet)
            if i in measured and _positive(measured[i]) and _positive(predicted[i])]
    scale = math.exp(sum(logs) / len(logs)) if logs else 1.0
    inside = range(miss + 1, meet)
    if not all(_positive(predicted[i]) for i in inside):
        return None
    return next((i for i in inside if predicted[i] * scale <= target), meet - 1)


def _positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def largest_bound(measure: Callable[[int], tuple[float, float]], target: float, guess: float, cap: int,
                  beat: float = math.inf, slope: float = 1.0) -> int:
    """The largest bound E in 1..cap whose distortion measure(E)[0] is at most target (NaN counts as meeting it),
    for a distortion that rises with E while the size measure(E)[1] falls; 0 when E = 1 misses. Each E is measured
    at most once, and the answer is always one that was measured to meet the target.

    guess: where the target is expected (the first trial). Each next trial goes where a power law, distortion
    proportional to E**k, through the interval's measured ends puts the target (k = slope while only one point is
    measured); after as many trials as bisection of 1..cap needs, the search bisects. beat: a size to beat (a
    setting met elsewhere); the search stops once a bound that misses is no smaller than it, since every smaller
    bound costs at least as much, and then returns the largest bound known to meet so far (0 if none).
    """
    lo, hi = 0, cap + 1  # largest bound known to meet the target (0: lossless meets any), smallest known to miss
    measured: dict[int, float] = {}
    budget = math.ceil(math.log2(cap + 1))
    e = min(max(math.floor(guess), 1), cap)
    while True:
        value, size = measure(e)
        measured[e] = value
        if value > target:
            hi = e
            if size >= beat:
                break
        else:
            lo = e
        if hi - lo <= 1:
            break
        guided = _bound_guess(lo, hi, measured, target, slope) if len(measured) < budget else None
        e = (lo + hi) // 2 if guided is None else guided
    return lo


def _bound_guess(lo: int, hi: int, measured: dict[int, float], target: float, slope: float) -> int | None:
    """The bound in (lo, hi) where the target should fall: distortion = a * E**k through two measured points, the
    interval's ends, or the one end measured and the measured point beside it (k within 0.25-2), or through the one
    point measured with k = slope; None when no end has a usable value."""
    usable = sorted(e for e, v in measured.items() if _positive(v))
    ends = [e for e in (lo, hi) if e in usable]
    if not ends:
        return None
    if len(ends) == 1:  # the measured point beside it, on the side away from the interval
        beside = [e for e in usable if e < lo] if ends[0] == lo else [e for e in usable if e > hi]
        ends = sorted(ends + ([max(beside) if ends[0] == lo else min(beside)] if beside else []))
    (e0, v0), k = (ends[0], measured[ends[0]]), slope
    if len(ends) == 2 and measured[ends[1]] != v0:
        k = min(max(math.log(measured[ends[1]] / v0) / math.log(ends[1] / e0), 0.25), 2.0)
    at = e0 * (target / v0) ** (1 / k)  # (through both points unless k was clamped)
    return min(max(math.floor(at), lo + 1), hi - 1)
