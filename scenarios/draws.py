"""Per-row statistics over Monte Carlo draws, exact or in memory bounded whatever the draws.

A forecast summarises, for each commune (or département, zone) and simulated year, the
draws' mean, share under the deficit threshold, P10, median and P90. The mean and the share
are running sums: exact in any mode. The three quantiles need the draws' order:

- ``exact``: every draw is kept (8 bytes per row and draw) and the quantiles are
  ``numpy.quantile``'s (linear interpolation between order statistics);
- ``binned``: each row keeps counts in :data:`EDGES`' fixed bins (4 bytes per row and bin,
  whatever the number of draws), with each row's exact minimum and maximum. A quantile is
  located in the bin holding its rank and placed inside it by the rank (values spread
  evenly in the bin); the result is clipped to the row's exact range. Its error is at most
  the width of that bin: **0.005** for values under 10 (every APL of the French range),
  0.05 from 10 to 100, and above 100 the span from 100 to the row's maximum. Values of
  exactly 0 (a commune left with no practitioner in reach) have a bin of their own, so
  their quantiles are exactly 0.

:func:`choose_mode` takes ``exact`` while it costs no more than
:data:`engine.settings.exact_forecast_memory_gib` or than the bins, ``binned`` beyond.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine import settings

__all__ = ["EDGES", "DrawSummary", "bin_error", "choose_mode", "summary_bytes"]

#: Left edges of the bins of ``binned`` mode: one bin for values <= 0, then 0.005 wide up to
#: 10, 0.05 wide up to 100, and one last bin above 100 (closed on the right, ``(a, b]``).
_FINE, _FINE_TOP, _COARSE, _COARSE_TOP = 0.005, 10.0, 0.05, 100.0
_N_FINE = int(round(_FINE_TOP / _FINE))
_N_COARSE = int(round((_COARSE_TOP - _FINE_TOP) / _COARSE))
EDGES = np.concatenate([[0.0], np.arange(_N_FINE) * _FINE,
                        _FINE_TOP + np.arange(_N_COARSE) * _COARSE, [_COARSE_TOP]])
_N_BINS = len(EDGES)
_RIGHT = np.concatenate([EDGES[1:], [np.inf]])


def bin_error(value: float) -> float:
    """Largest error of a ``binned`` quantile whose value is ``value`` (see the module).

    Examples
    --------
    >>> bin_error(2.5), bin_error(42.0)
    (0.005, 0.05)
    """
    return 0.0 if value <= 0 else _FINE if value <= _FINE_TOP else (
        _COARSE if value <= _COARSE_TOP else float("inf"))


def summary_bytes(rows: int, draws: int, mode: str) -> int:
    """Bytes kept by :class:`DrawSummary` of ``rows`` rows over ``draws`` draws.

    Examples
    --------
    >>> summary_bytes(360, 1000, "exact"), summary_bytes(360, 1000, "binned")
    (2891520, 5486400)
    """
    per_row = 8 * draws if mode == "exact" else 4 * _N_BINS
    return int(rows * (per_row + 32))  # + sum, below, min and max


def choose_mode(rows: int, draws: int) -> str:
    """``"exact"`` while keeping every draw costs at most the budget or the bins, else
    ``"binned"``.

    Examples
    --------
    >>> choose_mode(3600, 500), choose_mode(3600, 1_000_000)
    ('exact', 'binned')
    """
    exact = summary_bytes(rows, draws, "exact")
    if exact <= max(settings.exact_forecast_memory_gib * 2**30,
                    summary_bytes(rows, draws, "binned")):
        return "exact"
    return "binned"


class DrawSummary:
    """Mean, share in deficit and quantiles of each row over draws added chunk by chunk.

    Parameters
    ----------
    rows, draws : int
        Rows (communes, zones) and the total number of draws that will be added.
    mode : {"exact", "binned"}
        See the module.
    deficit : callable
        Maps an array of values to a boolean array: True where a value is in deficit.
    """

    def __init__(self, rows: int, draws: int, mode: str,
                 deficit: Callable[[np.ndarray], np.ndarray]) -> None:
        if mode not in ("exact", "binned"):
            raise ValueError(f"mode must be 'exact' or 'binned', got {mode!r}")
        self.rows, self.draws, self.mode, self._deficit = rows, draws, mode, deficit
        self.sum = np.zeros(rows)
        self.below = np.zeros(rows)
        self.added = 0
        if mode == "exact":
            self.values = np.empty((rows, draws))
        else:
            self.counts = np.zeros((rows, _N_BINS), dtype=np.uint32)
            self.min = np.full(rows, np.inf)
            self.max = np.full(rows, -np.inf)

    def add(self, lo: int, values: np.ndarray, deficit: np.ndarray | None = None) -> None:
        """Add the draws ``lo, lo + 1, ...``: ``values`` has one column per draw.

        ``deficit`` is the caller's mask of ``values`` in deficit when it has one already
        (default: the summary's ``deficit`` of ``values``).
        """
        m = values.shape[1]
        self.sum += values.sum(axis=1)
        self.below += (self._deficit(values) if deficit is None else deficit).sum(axis=1)
        self.added += m
        if self.mode == "exact":
            self.values[:, lo:lo + m] = values
            return
        self.min = np.minimum(self.min, values.min(axis=1))
        self.max = np.maximum(self.max, values.max(axis=1))
        # Bin b holds (EDGES[b], RIGHT[b]]; bin 0 holds the values <= 0.
        with np.errstate(invalid="ignore"):
            fine = np.ceil(values / _FINE)
            coarse = _N_FINE + np.ceil((values - _FINE_TOP) / _COARSE)
        b = np.where(values <= 0, 0, np.where(values <= _FINE_TOP, fine,
                                              np.where(values <= _COARSE_TOP, coarse,
                                                       _N_BINS - 1)))
        b = np.clip(b, 0, _N_BINS - 1).astype(np.int64)
        flat = (np.arange(self.rows)[:, None] * _N_BINS + b).ravel()
        self.counts += np.bincount(flat, minlength=self.rows * _N_BINS).reshape(
            self.rows, _N_BINS).astype(np.uint32)

    def mean(self) -> np.ndarray:
        """Mean of each row (exact)."""
        return self.sum / self.added

    def share_in_deficit(self) -> np.ndarray:
        """Share of each row's draws in deficit (exact)."""
        return self.below / self.added

    def quantiles(self, qs=(0.1, 0.5, 0.9), block: int = 64) -> np.ndarray:
        """The ``qs`` quantiles of each row, shape ``(len(qs), rows)``."""
        qs = np.asarray(qs, dtype=np.float64)
        out = np.empty((len(qs), self.rows))
        for lo in range(0, self.rows, block):
            hi = min(self.rows, lo + block)
            if self.mode == "exact":
                # np.quantile sorts a copy: blocks keep that copy small.
                out[:, lo:hi] = np.quantile(self.values[lo:hi, :self.added], qs, axis=1)
            else:
                out[:, lo:hi] = self._binned(lo, hi, qs)
        return out

    def release(self) -> None:
        """Drop what the quantiles need, once they are read."""
        self.values = self.counts = None

    def _binned(self, lo: int, hi: int, qs: np.ndarray) -> np.ndarray:
        counts = self.counts[lo:hi].astype(np.int64)
        cum = counts.cumsum(axis=1)
        rows = np.arange(hi - lo)
        lo_v, hi_v = self.min[lo:hi], self.max[lo:hi]
        right = np.broadcast_to(_RIGHT, counts.shape).copy()
        right[:, -1] = np.maximum(hi_v, _COARSE_TOP)

        def at_rank(r: np.ndarray) -> np.ndarray:
            b = (cum > r[:, None]).argmax(axis=1)
            before = cum[rows, b] - counts[rows, b]
            inside = (r - before + 0.5) / counts[rows, b]
            left = np.where(b == 0, 0.0, EDGES[b])
            width = np.where(b == 0, 0.0, right[rows, b] - left)
            return np.clip(left + inside * width, lo_v, hi_v)

        out = np.empty((len(qs), hi - lo))
        n = self.added
        for i, q in enumerate(qs):
            h = (n - 1) * q  # numpy's 'linear' method: between order statistics floor(h), ceil(h)
            k = np.full(hi - lo, np.floor(h))
            a, b = at_rank(k), at_rank(np.minimum(k + 1, n - 1))
            out[i] = a + (h - k) * (b - a)
        return out
