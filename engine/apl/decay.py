"""Distance-decay functions: travel time in minutes to a catchment weight.

Every decay is a vectorised callable ``decay(minutes) -> weights`` with a ``max_minutes``
attribute, the bound of its support (``inf`` when unbounded), so that callers know how far
to route: a pair farther apart than ``max_minutes`` always weighs 0.

Any other vectorised callable mapping minutes to non-negative weights is accepted by the
floating-catchment functions too (see :func:`as_decay`); without a ``max_minutes``
attribute it is taken as unbounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from engine._validate import cutoff_minutes, positive_number
from engine.errors import InputError

__all__ = [
    "Decay",
    "as_decay",
    "cumulative",
    "exponential",
    "gaussian",
    "gravity",
    "linear",
    "logistic",
    "step",
]


class Decay:
    """A vectorised distance-decay function with a known support.

    Parameters
    ----------
    func : callable
        ``func(minutes: numpy.ndarray) -> numpy.ndarray`` of the same shape.
    max_minutes : float
        Weights are 0 beyond this time (``inf`` for unbounded decays).
    name : str
        A readable description, used in ``repr``.

    Examples
    --------
    >>> import numpy as np
    >>> d = Decay(lambda t: np.where(t <= 30, 1.0, 0.0), 30.0, "within 30 min")
    >>> d(np.array([0.0, 45.0]))
    array([1., 0.])
    >>> d.max_minutes
    30.0
    """

    def __init__(self, func: Callable[[np.ndarray], np.ndarray], max_minutes: float, name: str):
        self._func = func
        self.max_minutes = float(max_minutes)
        self.name = name

    def __call__(self, minutes) -> np.ndarray:
        t = np.asarray(minutes, dtype=np.float64)
        return np.asarray(self._func(t), dtype=np.float64)

    def __repr__(self) -> str:
        return f"Decay({self.name}, max_minutes={self.max_minutes:g})"


def step(breaks: Sequence[float], weights: Sequence[float], *, closed: str = "left") -> Decay:
    """A stepped decay.

    Parameters
    ----------
    breaks : sequence of float
        Increasing interval bounds in minutes ``b_0 < b_1 < ... < b_{k-1}``.
    weights : sequence of float
        ``k`` or ``k + 1`` non-negative weights: ``weights[0]`` applies below ``b_0``,
        ``weights[m]`` between ``b_{m-1}`` and ``b_m``, and ``weights[k]`` (0 when only ``k``
        are given) beyond ``b_{k-1}``.
    closed : {"left", "right"}
        Which end of each interval is included. ``"left"`` (the default, as DREES and IPEA's
        ``decay_stepped``): intervals ``[b_{m-1}, b_m)``, so a time equal to a break takes
        the weight of the interval that starts there. ``"right"`` (as PySAL
        ``access.weights.step_fn``): intervals ``(b_{m-1}, b_m]``, so it takes the weight of
        the interval that ends there. On integer minutes the two differ at every break.

    Returns
    -------
    Decay
        ``max_minutes`` is the last break when the last weight is 0, else ``inf``.

    Raises
    ------
    InputError
        On unsorted breaks, a wrong number of weights, negative or NaN weights, or an
        unknown ``closed``.

    Examples
    --------
    >>> d = step([10, 15, 20], [1.0, 2 / 3, 1 / 3])
    >>> d([0.0, 9.99, 10.0, 19.9, 20.0]).round(3)
    array([1.   , 1.   , 0.667, 0.333, 0.   ])
    >>> step([10, 15, 20], [1.0, 2 / 3, 1 / 3], closed="right")([10.0, 20.0]).round(3)
    array([1.   , 0.333])
    >>> d.max_minutes
    20.0
    """
    if closed not in ("left", "right"):
        raise InputError(f"closed must be 'left' or 'right', got {closed!r}")
    b = np.asarray(breaks, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    if b.size == 0 or not np.all(np.isfinite(b)) or np.any(np.diff(b) <= 0) or b[0] < 0:
        raise InputError(f"breaks must be increasing non-negative minutes, got {list(b)}")
    if w.size == b.size:
        w = np.append(w, 0.0)
    if w.size != b.size + 1:
        raise InputError(f"give len(breaks) or len(breaks) + 1 weights; got {w.size} weights "
                         f"for {b.size} breaks")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(f"weights must be finite and non-negative, got {list(w)}")
    support = float(b[-1]) if w[-1] == 0 else math.inf
    # side="right": a time equal to a break falls in the interval that starts there.
    side = "right" if closed == "left" else "left"

    def func(t: np.ndarray) -> np.ndarray:
        out = w[np.searchsorted(b, t, side=side)]
        return np.where(np.isnan(t), 0.0, out)

    op = "<" if closed == "left" else "<="
    label = ", ".join(f"{op}{x:g}: {y:.4g}" for x, y in zip(b, w[:-1], strict=True))
    return Decay(func, support, f"step({label}, beyond: {w[-1]:.4g})")


def gaussian(sigma: float, cutoff: float | None = None) -> Decay:
    """Gaussian decay ``exp(-t^2 / (2 sigma^2))`` (1 at 0 minutes), optionally cut off.

    Parameters
    ----------
    sigma : float
        Width in minutes.
    cutoff : float, optional
        Weight 0 beyond this time (inclusive bound ``t <= cutoff`` kept).

    Returns
    -------
    Decay

    Examples
    --------
    >>> float(gaussian(10.0)(10.0).round(4))
    0.6065
    """
    sigma = positive_number(sigma, "sigma")
    bound = cutoff_minutes(cutoff)

    def func(t):
        return np.where(t <= bound, np.exp(-0.5 * (t / sigma) ** 2), 0.0)

    return Decay(func, bound, f"gaussian(sigma={sigma:g}, cutoff={bound:g})")


def exponential(rate: float, cutoff: float | None = None) -> Decay:
    """Negative exponential decay ``exp(-rate * t)``, optionally cut off.

    Parameters
    ----------
    rate : float
        Decay rate per minute.
    cutoff : float, optional
        Weight 0 beyond this time.

    Returns
    -------
    Decay

    Examples
    --------
    >>> float(exponential(0.1)(10.0).round(4))
    0.3679
    """
    rate = positive_number(rate, "rate")
    bound = cutoff_minutes(cutoff)

    def func(t):
        return np.where(t <= bound, np.exp(-rate * t), 0.0)

    return Decay(func, bound, f"exponential(rate={rate:g}, cutoff={bound:g})")


def gravity(power: float, cutoff: float | None = None, min_minutes: float = 1.0) -> Decay:
    """Gravity (inverse power) decay ``max(t, min_minutes) ** -power``.

    Parameters
    ----------
    power : float
        The exponent (``power > 0``).
    cutoff : float, optional
        Weight 0 beyond this time.
    min_minutes : float
        Times below this count as ``min_minutes``, so that 0 minutes has a finite weight
        (1 with the default).

    Returns
    -------
    Decay

    Examples
    --------
    >>> gravity(2.0)([0.0, 1.0, 10.0])
    array([1.  , 1.  , 0.01])
    """
    power = positive_number(power, "power")
    floor = positive_number(min_minutes, "min_minutes")
    bound = cutoff_minutes(cutoff)

    def func(t):
        return np.where(t <= bound, np.maximum(t, floor) ** -power, 0.0)

    return Decay(func, bound, f"gravity(power={power:g}, cutoff={bound:g})")


def cumulative(cutoff: float) -> Decay:
    """Binary catchment: weight 1 up to ``cutoff`` minutes included, 0 beyond (plain 2SFCA).

    Parameters
    ----------
    cutoff : float
        Catchment size in minutes.

    Returns
    -------
    Decay

    Examples
    --------
    >>> cumulative(30)([10.0, 30.0, 31.0])
    array([1., 1., 0.])
    """
    bound = cutoff_minutes(cutoff)
    if not math.isfinite(bound):
        raise InputError("cumulative() needs a finite cutoff in minutes")

    def func(t):
        return np.where(t <= bound, 1.0, 0.0)

    return Decay(func, bound, f"cumulative(cutoff={bound:g})")


def linear(cutoff: float) -> Decay:
    """Linear decay ``max(0, 1 - t / cutoff)``: 1 at 0 minutes, 0 from ``cutoff`` on.

    As IPEA's ``decay_linear()``.

    Parameters
    ----------
    cutoff : float
        Minutes at which the weight reaches 0 (``> 0``).

    Returns
    -------
    Decay

    Examples
    --------
    >>> linear(20)([0.0, 5.0, 10.0, 20.0, 60.0])
    array([1.  , 0.75, 0.5 , 0.  , 0.  ])
    """
    bound = positive_number(cutoff, "cutoff")

    def func(t):
        return np.where(t <= bound, np.maximum(1.0 - t / bound, 0.0), 0.0)

    return Decay(func, bound, f"linear(cutoff={bound:g})")


def logistic(median: float, sd: float, cutoff: float | None = None) -> Decay:
    """Logistic decay, a reversed cumulative logistic curve scaled to 1 at 0 minutes.

    ``w(t) = g(0) / g(t)`` with ``g(t) = 1 + exp(pi (t - median) / (sd sqrt(3)))``: the
    adjusted logistic of Bauer and Groenewold (2016), as IPEA's ``decay_logistic()``
    (which calls ``median`` its ``cutoff``). The weight is close to 0.5 at ``median``; a
    small ``sd`` approaches a binary cutoff, a large one a linear decay.

    Parameters
    ----------
    median : float
        Inflection point in minutes (``> 0``).
    sd : float
        Standard deviation of the logistic distribution in minutes (``> 0``).
    cutoff : float, optional
        Weight 0 beyond this time (the curve itself never reaches 0).

    Returns
    -------
    Decay

    Examples
    --------
    >>> logistic(20.0, 2.0)([0.0, 20.0]).round(4)
    array([1. , 0.5])
    """
    mid = positive_number(median, "median")
    spread = positive_number(sd, "sd")
    bound = cutoff_minutes(cutoff)
    scale = math.pi / (spread * math.sqrt(3.0))
    g0 = 1.0 + math.exp(-mid * scale)

    def func(t):
        # exp overflows to inf far beyond the median: the weight is then exactly 0.
        with np.errstate(over="ignore"):
            w = g0 / (1.0 + np.exp((t - mid) * scale))
        return np.where(t <= bound, w, 0.0)

    return Decay(func, bound, f"logistic(median={mid:g}, sd={spread:g}, cutoff={bound:g})")


def as_decay(decay) -> Decay:
    """Wrap any callable as a :class:`Decay` (``max_minutes`` from its attribute, else inf).

    A callable that only works on scalars (such as ``access.weights.step_fn``) is applied
    element-wise.

    Parameters
    ----------
    decay : Decay or callable
        The decay function.

    Returns
    -------
    Decay

    Examples
    --------
    >>> as_decay(lambda t: 1.0 / (1.0 + t)).max_minutes
    inf
    """
    if isinstance(decay, Decay):
        return decay
    if not callable(decay):
        raise InputError(f"decay must be callable (minutes -> weights), got {type(decay).__name__}")
    bound = float(getattr(decay, "max_minutes", math.inf))
    scalar = np.vectorize(decay, otypes=[np.float64])

    def func(t):
        try:
            out = np.asarray(decay(t), dtype=np.float64)
            if out.shape == t.shape:
                return out
        except (TypeError, ValueError):
            pass
        return scalar(t) if t.size else np.empty(t.shape)

    return Decay(func, bound, getattr(decay, "__name__", repr(decay)))
