"""Next week's cases from a daily series (pure numpy; the series are read by SQL, summed per
day: store/stats_records.py `daily_counts`). Docs: docs/STATS.md, "Forecast and alerts".

The model, per series: a weekday profile (each weekday's mean over the last WEEKS weeks of
working days, over their overall mean) times a level with a damped trend (a straight line
through the last TREND_DAYS days with the profile divided out), times a holiday factor on
the calendar's holidays (past holidays' cases over what the profile and level expected of
them). Holidays are left out of the profile and the line. Its error on held-out weeks is
measured by rolling the origin back a week at a time (`backtest`), against seasonal-naive
(the same weekday one week before), in MAPE and MASE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

Series = npt.NDArray[np.float64]
Values = Sequence[float] | Series
WEEKS = 16  # the weekday profile's window (measured: 8 weeks MASE 0.556, 16 weeks 0.527)
TREND_DAYS = 56  # the level's line
DAMP = 0.3  # of the line's slope carried into the forecast (two months' slope is mostly noise)
BAND_Z = 1.2816  # an 80 % band


@dataclass(frozen=True, slots=True)
class Forecast:
    mean: Series  # the next `horizon` days
    lo: Series
    hi: Series


@dataclass(frozen=True, slots=True)
class Errors:
    mape: float | None  # mean |error| / actual over days with cases, in percent
    mase: float | None  # mean |error| / the in-sample mean |y_t - y_(t-7)|
    days: int


def _holiday_mask(first: date, n: int, holidays: frozenset[date]) -> npt.NDArray[np.bool_]:
    return np.array([first + timedelta(days=i) in holidays for i in range(n)], dtype=bool)


def _profile(y: Series, weekday: npt.NDArray[np.int_], usable: npt.NDArray[np.bool_]) -> Series:
    window = np.zeros(len(y), dtype=bool)
    window[-7 * WEEKS :] = True
    use = window & usable
    overall = y[use].mean() if use.any() else 0.0
    factors = np.ones(7)
    for d in range(7):
        mine = use & (weekday == d)
        if mine.any() and overall > 0:
            factors[d] = max(y[mine].mean() / overall, 0.05)
    return factors


def forecast(y: Values, first: date, holidays: Iterable[date], horizon: int = 7) -> Forecast:
    """The `horizon` days after the series `y` (daily counts, the first on `first`)."""
    series = np.asarray(y, dtype=np.float64)
    n, days_off = len(series), frozenset(holidays)
    weekday = np.array([(first + timedelta(days=i)).weekday() for i in range(n + horizon)])
    off = _holiday_mask(first, n + horizon, days_off)
    if n == 0:
        zero = np.zeros(horizon)
        return Forecast(zero, zero, zero)
    factors = _profile(series, weekday[:n], ~off[:n])
    z = series / factors[weekday[:n]]
    recent = np.arange(max(0, n - TREND_DAYS), n)
    recent = recent[~off[recent]] if (~off[recent]).any() else recent
    if len(recent) >= 2:
        slope, intercept = np.polyfit(recent.astype(np.float64), z[recent], 1)
    else:
        slope, intercept = 0.0, float(z[recent].mean()) if len(recent) else 0.0
    level = intercept + slope * (n - 1)
    ahead = np.arange(1, horizon + 1, dtype=np.float64)
    z_hat = np.maximum(level + DAMP * slope * ahead, 0.0)
    holiday = _holiday_factor(series, factors, weekday[:n], off[:n])
    mean = z_hat * factors[weekday[n:]] * np.where(off[n:], holiday, 1.0)
    fitted = (intercept + slope * np.arange(n)) * factors[weekday[:n]]
    usable = ~off[:n]
    usable[: max(0, n - 7 * WEEKS)] = False
    rel = (series[usable] - fitted[usable]) / np.maximum(fitted[usable], 1.0) if usable.any() else np.zeros(1)
    spread = np.sqrt(mean + (float(np.std(rel)) * mean) ** 2)  # Poisson and the fit's own scatter
    return Forecast(mean, np.maximum(mean - BAND_Z * spread, 0.0), mean + BAND_Z * spread)


def _holiday_factor(
    y: Series, factors: Series, weekday: npt.NDArray[np.int_], off: npt.NDArray[np.bool_]
) -> float:
    """Past holidays' cases over the profile's expectation at the level of the fortnight before."""
    ratios = []
    for t in (int(i) for i in np.flatnonzero(off)):
        before = np.arange(max(0, t - 14), t)
        before = before[~off[before]]
        if len(before) < 5:
            continue
        level = float((y[before] / factors[weekday[before]]).mean())
        if level > 0:
            ratios.append(y[t] / (level * factors[weekday[t]]))
    return float(np.median(ratios)) if ratios else 1.0


def holiday_factor(y: Values, first: date, holidays: Iterable[date]) -> float:
    """How many cases a holiday has against a working day of its weekday (1.0: no holiday seen)."""
    series = np.asarray(y, dtype=np.float64)
    weekday = np.array([(first + timedelta(days=i)).weekday() for i in range(len(series))])
    off = _holiday_mask(first, len(series), frozenset(holidays))
    return _holiday_factor(series, _profile(series, weekday, ~off), weekday, off) if len(series) else 1.0


def seasonal_naive(y: Values, horizon: int = 7) -> Series:
    """The same weekday one week before (the last week repeated)."""
    series = np.asarray(y, dtype=np.float64)
    last = series[-7:] if len(series) >= 7 else np.zeros(7)
    return np.array([last[i % 7] for i in range(horizon)])


def errors(actual: Series, predicted: Series, history: Series) -> tuple[float, float, int, float]:
    """(sum of |error| / actual over days with cases, sum of |error|, days with cases, MASE's
    in-sample scale): summed over series and weeks by the caller."""
    with_cases = actual > 0
    ape = float((np.abs(actual - predicted)[with_cases] / actual[with_cases]).sum())
    scale = float(np.mean(np.abs(history[7:] - history[:-7]))) if len(history) > 7 else 0.0
    return ape, float(np.abs(actual - predicted).sum()), int(with_cases.sum()), scale


def backtest(y: Values, first: date, holidays: Iterable[date], weeks: int = 8) -> dict[str, Errors]:
    """Ours and seasonal-naive on each of the last `weeks` weeks, forecast from the days before it."""
    series = np.asarray(y, dtype=np.float64)
    days_off = frozenset(holidays)
    sums = {"ours": [0.0, 0.0, 0, 0.0], "naive": [0.0, 0.0, 0, 0.0]}
    for k in range(weeks, 0, -1):
        origin = len(series) - 7 * k
        if origin < 14:
            continue
        history, actual = series[:origin], series[origin : origin + 7]
        for name, predicted in (
            ("ours", forecast(history, first, days_off).mean),
            ("naive", seasonal_naive(history)),
        ):
            ape, abs_err, n, scale = errors(actual, predicted, history)
            total = sums[name]
            total[0] += ape
            total[1] += abs_err
            total[2] += n
            total[3] += scale * 7
    return {name: _errors(total) for name, total in sums.items()}


def _errors(total: list[float]) -> Errors:
    ape, abs_err, n, scale = total
    return Errors(
        mape=round(100 * ape / n, 2) if n else None,
        mase=round(abs_err / scale, 3) if scale > 0 else None,
        days=int(n),
    )
