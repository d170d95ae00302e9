"""Rate control: the cheapest quality level whose measured distortion meets a target, in few trials.

Each trial is a real compress and decode, so trials are what `--max-prdn` costs. The ladder's calibrated val
PRDN, scaled by what the trials measured on this record, predicts where the target falls; every guess is
checked by a trial, so the answer is the one a binary search over the same measurements gives.
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
