"""Buy again when it's due: per-customer due dates for the products a customer re-buys.

The build learns, per category, how many days pass between one customer's purchases of it
(`RepeatModel.gap_quantiles`: the 10/25/50/75/90 % quantiles, from every customer's
consecutive purchase dates of the category). A customer's own pace adjusts it: their mean
gap in the category is shrunk toward the category's median with `PRIOR_GAPS` pseudo-gaps,
so one early re-buy moves a due date a little and five move it most of the way.

- **Due date** = the last purchase of the product + the customer's expected interval.
- **Confidence** c = the chance this customer buys the product again at all
  (`repeat.repeat_chance`: the product's re-buy propensity × the customer's factor).
- **Chance soon** = the chance they buy it in the next `HORIZON_DAYS`, given they have not
  since their last purchase: c × (F(t + h) − F(t)) ÷ (1 − c × F(t)), where F is the
  category's interval distribution (piecewise linear through the learned quantiles, an
  exponential tail after the last) and t,
  h are the elapsed time and the horizon in the customer's pace (× category median ÷ their
  interval). It is low just after a purchase, peaks around the due date and fades when a
  product is long overdue (the customer has likely stopped needing it): this, not the due
  date alone, ranks a product for buying again.

Only products that come back (`engine.comes_back`: customers re-buy that product of the
category) get a due date, so durables (categories nobody re-bought the same product of)
never do. Time is measured up to ``as_of``: a request's ``before`` (timelines, evaluation),
else the latest order the build holds (the next build moves it on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recograph.recommenders.repeat import GAP_LEVELS, RepeatModel, repeat_chance

DAY_SECONDS = 86_400
DAYS_PER_MONTH = 30.4375
PRIOR_GAPS = 2.0  # pseudo-gaps at the category's median behind a customer's own pace
DUE_SOON_DAYS = 60  # `dueSoon` lists products due by as-of + this many days (overdue included)
HORIZON_DAYS = 30.0  # "soon": the window the chance of a re-buy is measured over
_MEDIAN = GAP_LEVELS.index(0.5)
_LOW, _HIGH = GAP_LEVELS.index(0.25), GAP_LEVELS.index(0.75)


@dataclass(frozen=True)
class DueItem:
    """One owned product's next purchase as the customer's habits predict it."""

    position: int
    last_bought: int  # epoch seconds of the latest purchase
    due: int  # epoch seconds: last_bought + interval_days
    interval_days: float  # the customer's expected interval (own gaps shrunk to the category's)
    own_gaps: int  # the customer's own gaps in the category behind it
    confidence: float  # chance the customer buys it again at all
    chance_soon: float  # chance they buy it within HORIZON_DAYS of as-of


def expected_interval(own_gaps: npt.ArrayLike, category_median: float) -> float:
    """The customer's interval in days: their gaps plus `PRIOR_GAPS` gaps at the category's
    median, averaged (no gaps of their own: the category's median)."""
    gaps = np.asarray(own_gaps, dtype=np.float64)
    return float((gaps.sum() + PRIOR_GAPS * category_median) / (gaps.size + PRIOR_GAPS))


def interval_cdf(days: float, quantiles: npt.ArrayLike) -> float:
    """F(days): the share of the category's intervals at most ``days``, linear between the
    learned quantiles (0 at 0 days), then an exponential tail with the median as its scale
    (a long-overdue product keeps a fading chance instead of none)."""
    q = np.maximum.accumulate(np.asarray(quantiles, dtype=np.float64))
    levels = np.asarray(GAP_LEVELS, dtype=np.float64)
    if days <= q[-1]:
        xp = np.concatenate([[0.0], q])
        fp = np.concatenate([[0.0], levels])
        return float(np.interp(max(days, 0.0), xp, fp))
    scale = max(float(q[_MEDIAN]), 1.0)
    return float(1.0 - (1.0 - levels[-1]) * np.exp(-(days - q[-1]) / scale))


def chance_soon(
    confidence: float, elapsed_days: float, quantiles: npt.ArrayLike, interval_days: float
) -> float:
    """The chance of a re-buy within `HORIZON_DAYS`, given none in the ``elapsed_days`` since
    the last purchase: c × (F(t + h) − F(t)) ÷ (1 − c × F(t)) at the customer's pace."""
    q = np.asarray(quantiles, dtype=np.float64)
    median = float(q[_MEDIAN])
    if median <= 0 or interval_days <= 0 or confidence <= 0:
        return 0.0
    pace = median / interval_days
    now = interval_cdf(elapsed_days * pace, q)
    later = interval_cdf((elapsed_days + min(HORIZON_DAYS, median)) * pace, q)
    c = min(confidence, 1.0)
    remaining = 1.0 - c * now
    return 0.0 if remaining <= 0 else float(c * (later - now) / remaining)


def due_items(
    repeat: RepeatModel,
    item_category: npt.NDArray[np.integer],
    user: int | None,
    items: npt.NDArray[np.int64],
    bought_item: npt.NDArray[np.int64],
    bought_date: npt.NDArray[np.int64],
    as_of: int,
) -> list[DueItem]:
    """Due dates of ``items`` (owned products that come back) from the customer's purchases
    (``bought_item`` / ``bought_date``: one entry per product and purchase date, epoch
    seconds), as of ``as_of``. Products of a category without a learned gap get none."""
    out: list[DueItem] = []
    if items.size == 0:
        return out
    chances = repeat_chance(repeat, user, items)
    bought_category = np.asarray(item_category, dtype=np.int64)[bought_item]
    for position, once in zip(items.tolist(), chances.tolist(), strict=True):
        category = int(item_category[position])
        quantiles = repeat.gap_quantiles[category]
        median = float(quantiles[_MEDIAN])
        mine = bought_date[bought_item == position]
        if median <= 0 or mine.size == 0:
            continue
        # each purchase another chance to be a habit (as `engine.buy_again` compounds it)
        chance = 1.0 - (1.0 - once) ** mine.size
        category_dates = np.unique(bought_date[bought_category == category])
        own = np.diff(category_dates) / DAY_SECONDS
        interval = expected_interval(own, median)
        last = int(mine.max())
        elapsed = (as_of - last) / DAY_SECONDS
        out.append(
            DueItem(
                position=int(position),
                last_bought=last,
                due=last + round(interval * DAY_SECONDS),
                interval_days=interval,
                own_gaps=int(own.size),
                confidence=float(chance),
                chance_soon=chance_soon(float(chance), elapsed, quantiles, interval),
            )
        )
    return out


def due_soon(items: list[DueItem], as_of: int, within_days: float = DUE_SOON_DAYS) -> list[DueItem]:
    """The products due by ``as_of`` + ``within_days`` (overdue ones included), soonest first
    (ties by position)."""
    horizon = as_of + within_days * DAY_SECONDS
    return sorted((d for d in items if d.due <= horizon), key=lambda d: (d.due, d.position))


def months(days: float) -> int:
    """Whole months in ``days`` (30.4375 days each), rounded."""
    return round(days / DAYS_PER_MONTH)


def span_words(days: float) -> str:
    """A time since a purchase in words: "5 months", "3 weeks", "4 days"."""
    if days >= 2 * DAYS_PER_MONTH:
        n, unit = months(days), "month"
    elif days >= 14:
        n, unit = round(days / 7), "week"
    else:
        n, unit = round(days), "day"
    return f"{n} {unit}{'s' if n != 1 else ''}"


def interval_words(low_days: float, high_days: float) -> str:
    """The category's usual interval (its 25–75 % quantiles) in words: "4–6 months"."""
    if high_days >= 2 * DAYS_PER_MONTH:
        low, high, unit = months(low_days), months(high_days), "months"
    elif high_days >= 14:
        low, high, unit = round(low_days / 7), round(high_days / 7), "weeks"
    else:
        low, high, unit = round(low_days), round(high_days), "days"
    return f"{low} {unit}" if low == high else f"{low}–{high} {unit}"


def usual_interval(repeat: RepeatModel, category: int) -> tuple[float, float]:
    """The category's usual interval in days: its 25 % and 75 % gap quantiles."""
    q = repeat.gap_quantiles[category]
    return float(q[_LOW]), float(q[_HIGH])
