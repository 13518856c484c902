"""Small statistics with published reference answers: Wilson intervals, the binomial test, sample
size for a given power, Krippendorff's alpha (nominal) and Fleiss' kappa."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from preflog.errors import ValidationError


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``n`` with a Wilson score interval (None when n is 0)."""

    successes: int
    n: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


def _z(level: float) -> float:
    from scipy.stats import norm

    if not 0 < level < 1:
        raise ValidationError("must be between 0 and 1", "level")
    return float(norm.ppf(0.5 + level / 2))


def wilson(successes: float, n: float, level: float = 0.95) -> Proportion:
    """The Wilson score interval (no continuity correction) for a binomial proportion.

    >>> p = wilson(8, 10)
    >>> round(p.ci_low, 4), round(p.ci_high, 4)
    (0.4902, 0.9433)
    """
    if n <= 0:
        return Proportion(int(successes), 0, None, None, None)
    z = _z(level)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Proportion(int(successes), int(n), p, max(0.0, center - half), min(1.0, center + half))


def binomial_test(successes: int, n: int, p: float = 0.5) -> float | None:
    """Two-sided exact binomial test p-value (a sign test when p = 0.5); None when n is 0."""
    from scipy.stats import binomtest

    if n <= 0:
        return None
    return float(binomtest(successes, n, p, alternative="two-sided").pvalue)


def sample_size(rate: float, *, power: float = 0.8, alpha: float = 0.05, null: float = 0.5) -> int | None:
    """Decisive battles needed for a two-sided level-``alpha`` test of ``null`` to reject with
    probability ``power`` when the true win rate is ``rate`` (normal approximation):
    n = ((z₁₋α/₂·√(p₀q₀) + z_power·√(pq)) / (p − p₀))². None when ``rate`` equals the null."""
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ValidationError("power and alpha must be between 0 and 1", "power")
    if abs(rate - null) < 1e-12 or not 0 < rate < 1:
        return None
    za, zb = _z(1 - alpha), _z(2 * power - 1)
    n = ((za * math.sqrt(null * (1 - null)) + zb * math.sqrt(rate * (1 - rate))) / (rate - null)) ** 2
    return math.ceil(n)


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data. ``units`` holds the values given to each unit by its
    coders (missing values simply absent); units with fewer than two values are not pairable.
    None when there is no disagreement possible (one value used overall, or nothing pairable).
    """
    coincidence: dict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                coincidence[(c, k)] += pairs / (m - 1)
    totals: dict[Hashable, float] = defaultdict(float)
    for (c, _), value in coincidence.items():
        totals[c] += value
    n = sum(totals.values())
    if n <= 1:
        return None
    observed = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = (n * n - sum(v * v for v in totals.values())) / (n - 1)
    if expected <= 0:
        return None
    return 1.0 - observed / expected


def fleiss_kappa(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa over units rated by two or more raters (the number may vary per unit; with a
    constant number it is exactly Fleiss 1971). None when undefined (a single category overall)."""
    rated = [Counter(values) for values in units if len(values) >= 2]
    if not rated:
        return None
    agreement = []
    share: Counter[Hashable] = Counter()
    total = 0
    for counts in rated:
        n = sum(counts.values())
        agreement.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
        share.update(counts)
        total += n
    p_bar = sum(agreement) / len(agreement)
    p_e = sum((v / total) ** 2 for v in share.values())
    if p_e >= 1:
        return None
    return (p_bar - p_e) / (1 - p_e)


def quantiles(values: Sequence[float], qs: Sequence[float] = (0.5, 0.9, 0.99)) -> dict[str, float | None]:
    """``{"p50": ..., "p90": ..., "p99": ...}`` (linear interpolation), None when empty."""
    import numpy as np

    keys = [f"p{round(q * 100):d}" for q in qs]
    if not len(values):
        return dict.fromkeys(keys)
    out = np.quantile(np.asarray(values, dtype=float), qs)
    return {k: float(v) for k, v in zip(keys, out, strict=True)}


@dataclass(frozen=True)
class DurationUnit:
    """A unit to show durations in: ``name`` (for labels), ``seconds`` per unit, ``symbol``."""

    name: str
    seconds: float
    symbol: str


DURATION_UNITS: tuple[DurationUnit, ...] = (
    DurationUnit("seconds", 1.0, "s"),
    DurationUnit("minutes", 60.0, "min"),
    DurationUnit("hours", 3600.0, "h"),
    DurationUnit("days", 86400.0, "d"),
)


def duration_unit(seconds: float | None) -> DurationUnit:
    """The largest unit in which ``seconds`` is at least 1.5 (seconds below 90 s): 42 s stay
    seconds, 91,629 s are 25.5 hours, 135,792 s are 1.6 days. The one rule for the CLI, the
    charts and the dashboards; a chart takes the unit of its largest value.

    >>> [duration_unit(s).symbol for s in (42.4, 600, 91628.9, 135791.6, -7200, None)]
    ['s', 'min', 'h', 'd', 'h', 's']
    """
    size = abs(seconds) if seconds is not None and math.isfinite(seconds) else 0.0
    chosen = DURATION_UNITS[0]
    for unit in DURATION_UNITS[1:]:
        if size >= 1.5 * unit.seconds:
            chosen = unit
    return chosen


def format_duration(seconds: float | None) -> str:
    """A duration in its own unit with one decimal, "—" when unknown.

    >>> format_duration(42.44), format_duration(91628.9), format_duration(None)
    ('42.4 s', '25.5 h', '—')
    """
    if seconds is None or not math.isfinite(seconds):
        return "—"
    unit = duration_unit(seconds)
    return f"{seconds / unit.seconds:.1f} {unit.symbol}"
