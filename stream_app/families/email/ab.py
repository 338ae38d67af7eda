"""A/B comparison of variants on a proportion: the two-proportion z-test.

Pure functions over counts. Each variant is compared against the campaign's best *other*
variant; a leader is named only when the best variant beats the runner-up at p < alpha and both
have at least `min_n` delivered messages. Checking continuously ("peeking") inflates the false
positive rate above alpha: the README says how to read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ZTest:
    z: float
    p_value: float


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> ZTest | None:
    """Pooled two-proportion z-test of x1/n1 against x2/n2; two-sided p-value. None when it is
    undefined (an empty arm, or both rates 0 or both 1)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True, slots=True)
class VariantResult:
    variant: str
    successes: int
    n: int
    rate: float | None
    rival: str | None
    z: float | None
    p_value: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    results: tuple[VariantResult, ...]
    leader: str | None


def _rate(x: int, n: int) -> float:
    return x / n if n else -1.0


def compare(arms: Mapping[str, tuple[int, int]], *, alpha: float, min_n: int) -> Comparison:
    """arms: variant -> (successes, delivered)."""
    names = sorted(arms)
    results = []
    for name in names:
        x, n = arms[name]
        others = [o for o in names if o != name]
        # The best other variant: highest rate, then most data, then name (deterministic).
        rival = max(others, key=lambda o: (_rate(*arms[o]), arms[o][1], o), default=None)
        test = None if rival is None else two_proportion_z(x, n, *arms[rival])
        results.append(
            VariantResult(
                name,
                x,
                n,
                x / n if n else None,
                rival,
                None if test is None else test.z,
                None if test is None else test.p_value,
            )
        )
    leader = None
    eligible = [r for r in results if r.rate is not None]
    if len(eligible) >= 2:
        best = max(eligible, key=lambda r: (r.rate or 0.0, r.n, r.variant))
        rival_n = arms[best.rival][1] if best.rival else 0
        if (
            best.z is not None
            and best.z > 0
            and best.p_value is not None
            and best.p_value < alpha
            and best.n >= min_n
            and rival_n >= min_n
        ):
            leader = best.variant
    return Comparison(tuple(results), leader)
