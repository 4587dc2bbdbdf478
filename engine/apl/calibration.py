"""Supply calibrated on the official APL, and the correction that makes the baseline exact.

The official APL of a data year is what a planner lives with; the engine's own recomputation
from a roster (BPE head counts at a default activity, OSM roads instead of INSEE's
distancier) differs from it. For a fixed demand the APL is linear in supply,
``apl = A S`` with ``A_ij = w(t_ij) / D_j`` and ``D_j = sum_k w(t_kj) P_k``, so the supply
that best explains the official values through the engine's own catchments can be estimated.

:func:`fit_supply` solves, with ``S = Y + O`` (supply of practitioners at or under the
variant age, and over it) and both non-negative::

    min  |A (Y + O) - apl|^2 + |A Y - apl_young|^2
         + lam (|Y - Y0|^2 + |O - O0|^2) / s^2

where ``(Y0, O0)`` is the roster's supply scaled to the official total (the E2SFCA conserves
supply, ``sum_i P_i apl_i = sum_j S_j``, so the official values give the region's total
counted activity) and split by age (the roster's ages, or the region's own share of supply
over the variant age, ``1 - sum P apl_young / sum P apl``), and ``s`` the default activity of
one practitioner: ``lam = 1`` weighs one practitioner's worth of supply away from the roster
like one unit of APL missed. The regularisation ``lam`` is chosen by :func:`choose_regularisation`:
K-fold cross-validation over communes (each fold's official values are predicted by a fit
on the others' equations), the ``lam`` with the smallest held-out mean absolute error.

Even the best supply does not reproduce the official values (the catchments differ), so a
:class:`Correction` carries what remains, commune by commune, so that the baseline is exact:

- where both the official and the fitted APL are positive, a **factor**
  ``f_i = apl_i / (A S)_i``: a supply change then moves the commune's APL by ``f_i`` times the
  engine's catchment response, and a commune whose practitioners all leave falls to 0;
- where the official APL is 0 (no practitioner in reach for DREES) the factor would make the
  commune deaf to any installation, so there the remainder is an **offset**
  ``r_i = apl_i - (A S)_i`` (negative): the commune stays at 0 until its own catchment gains
  more supply than the engine sees today; likewise where the fitted APL is 0.

The factor was chosen over a plain offset everywhere on data of the data year only: moving
from the calibrated all-practitioner state to the fitted younger-practitioner state, the
factor reproduces the official "65 ans et moins" variant of Corsica 2022 better (mean
absolute error 0.182 against 0.202; share of population under 2.5 26.5 % and 26.0 % against
27.0 %; ``benchmarks/validate_baseline.py``). The corrected APL is clipped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine._validate import finite_vector, positive_number
from engine.apl._kernels import nnls_normal
from engine.errors import InputError

__all__ = [
    "Correction",
    "SupplyFit",
    "catchment_operator",
    "choose_regularisation",
    "correction",
    "fit_supply",
]

#: Regularisations tried by :func:`choose_regularisation` (log-spaced, 1-2-5 per decade).
DEFAULT_GRID: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)

@dataclass(frozen=True)
class Correction:
    """What carries the baseline from the engine's fitted APL to the official one.

    ``apl = max(0, factor * model + offset)`` (see the module notes).

    Attributes
    ----------
    factor, offset : numpy.ndarray
        One value per commune.
    """

    factor: np.ndarray
    offset: np.ndarray

    @classmethod
    def identity(cls, n: int) -> Correction:
        """No correction (the model baseline)."""
        return cls(np.ones(n), np.zeros(n))

    def unclipped(self, model_apl) -> np.ndarray:
        """``factor * model + offset`` (1-D, or 2-D with communes on the first axis)."""
        m = np.asarray(model_apl, dtype=np.float64)
        if m.ndim == 2:
            return self.factor[:, None] * m + self.offset[:, None]
        return self.factor * m + self.offset

    def apply(self, model_apl) -> np.ndarray:
        """The corrected APL, clipped at 0."""
        return np.maximum(self.unclipped(model_apl), 0.0)

    @property
    def kind(self) -> np.ndarray:
        """``"factor"`` or ``"offset"`` per commune."""
        return np.where(self.offset != 0.0, "offset", "factor")


def correction(model_apl, official_apl) -> Correction:
    """The correction that maps the fitted APL onto the official one exactly.

    Parameters
    ----------
    model_apl : array-like
        The engine's APL with the calibrated supply.
    official_apl : array-like
        The official APL, same communes.

    Returns
    -------
    Correction
        A factor where both are positive, an offset elsewhere (see the module notes).

    Examples
    --------
    >>> c = correction([2.0, 1.0, 0.0], [3.0, 0.0, 0.5])
    >>> c.factor.tolist(), c.offset.tolist()
    ([1.5, 1.0, 1.0], [0.0, -1.0, 0.5])
    >>> c.apply([2.0, 1.0, 0.0]).tolist()
    [3.0, 0.0, 0.5]
    """
    m = finite_vector(model_apl, "model_apl", non_negative=True)
    a = finite_vector(official_apl, "official_apl", size=len(m), non_negative=True)
    both = (m > 0) & (a > 0)
    factor = np.where(both, a / np.where(both, m, 1.0), 1.0)
    offset = np.where(both, 0.0, a - m)
    return Correction(factor, offset)


def catchment_operator(weights, demand) -> sp.csr_matrix:
    """``A = W diag(1 / D)``: the APL of every commune per unit of supply in each commune.

    Parameters
    ----------
    weights : scipy.sparse matrix
        Decay weights, rows demand, columns supply.
    demand : array-like
        Demand per row.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``apl = A @ supply`` (columns no demand reaches are 0).
    """
    w = sp.csr_matrix(weights, dtype=np.float64)
    d = finite_vector(demand, "demand", size=w.shape[0], non_negative=True)
    reach = np.asarray(w.T @ d).ravel()
    inv = np.divide(1.0, reach, out=np.zeros_like(reach), where=reach > 0)
    return (w @ sp.diags(inv)).tocsr()


@dataclass
class SupplyFit:
    """Supply estimated from the official values (see :func:`fit_supply`).

    Attributes
    ----------
    young, senior : numpy.ndarray
        Supply per commune of practitioners at or under the variant age, and over it.
    prior_young, prior_senior : numpy.ndarray
        The roster's supply the fit was pulled toward (scaled to the official total).
    regularisation : float
        ``lam``.
    scale : float
        ``s``, one practitioner's default activity.
    total_scale : float
        The factor applied to the roster's supply to match the official total.
    fitted, fitted_young : numpy.ndarray
        ``A S`` and ``A Y``: the engine's APL with the fitted supply.
    cv : pandas.DataFrame or None
        The cross-validation table when ``lam`` was chosen by it.
    """

    young: np.ndarray
    senior: np.ndarray
    prior_young: np.ndarray
    prior_senior: np.ndarray
    regularisation: float
    scale: float
    total_scale: float
    fitted: np.ndarray
    fitted_young: np.ndarray | None
    cv: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def total(self) -> np.ndarray:
        """``young + senior``."""
        return self.young + self.senior

    @property
    def senior_share(self) -> np.ndarray:
        """Share of each commune's supply from practitioners over the variant age (0 where none)."""
        t = self.total
        return np.divide(self.senior, t, out=np.zeros_like(t), where=t > 0)


def _priors(a_op, demand, apl, apl_young, prior, prior_senior):
    n = a_op.shape[1]
    total_official = float(np.dot(demand, apl))
    prior = np.zeros(n) if prior is None else finite_vector(prior, "prior", size=n,
                                                            non_negative=True)
    total_scale = total_official / prior.sum() if prior.sum() > 0 else 1.0
    prior = prior * total_scale
    if apl_young is None:
        return prior, np.zeros(n), total_scale
    if prior_senior is None:
        share = 1.0 - float(np.dot(demand, apl_young)) / total_official if total_official > 0 else 0.0
        share = min(max(share, 0.0), 1.0)
        senior = prior * share
    else:
        senior = finite_vector(prior_senior, "prior_senior", size=n, non_negative=True)
        senior = np.minimum(senior * total_scale, prior)
    return prior - senior, senior, total_scale


def _system(a_op: sp.csr_matrix, rows: np.ndarray, apl, apl_young, prior_y, prior_o,
            lam: float, scale: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """The stacked least squares ``|M x - y|`` on the equations of ``rows``."""
    n = a_op.shape[1]
    sub = a_op[rows] * scale
    root = np.sqrt(lam)
    eye = sp.identity(n, format="csr")
    if apl_young is None:
        return (sp.bmat([[sub], [root * eye]], format="csr"),
                np.concatenate([apl[rows], root * prior_y / scale]))
    zero = sp.csr_matrix((len(rows), n))
    m = sp.bmat([[sub, sub], [sub, zero], [root * eye, None], [None, root * eye]], format="csr")
    return m, np.concatenate([apl[rows], apl_young[rows], root * prior_y / scale,
                              root * prior_o / scale])


def _solve(a_op: sp.csr_matrix, rows: np.ndarray, apl, apl_young, prior_y, prior_o, lam: float,
           scale: float, start=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The regularised NNLS on the equations of ``rows`` (every commune's supply unknown).

    Solved on its normal equations by coordinate descent (:func:`engine.apl._kernels.nnls_normal`,
    sparse, warm-started from ``start``); returns young and senior supply and the raw solution.
    """
    n = a_op.shape[1]
    m, y = _system(a_op, rows, apl, apl_young, prior_y, prior_o, lam, scale)
    # 1e-8 (in units of one practitioner's activity) changes no fitted value by more than
    # 1e-5 of it against 1e-10, at a third of the sweeps.
    x, _ = nnls_normal((m.T @ m).tocsr(), m.T @ y, start, tol=1e-8)
    supply = x * scale
    if apl_young is None:
        return supply, np.zeros(n), x
    return supply[:n], supply[n:], x


def choose_regularisation(weights, demand, apl, apl_young=None, prior=None, *,
                          prior_senior=None, scale: float, grid=DEFAULT_GRID, folds: int = 5,
                          seed: int = 0) -> tuple[float, pd.DataFrame]:
    """The regularisation with the smallest held-out error, by K-fold cross-validation.

    Communes are dealt at random (seeded) into ``folds`` groups. For each ``lam`` and each
    group, the supply is fitted on the other communes' equations (every commune's supply is
    still unknown, pulled toward the roster), and the group's official APL is predicted with
    it. Interleaved communes test what a calibration must do in a forecast: explain a
    commune's official value from the supply around it.

    Parameters
    ----------
    weights, demand, apl, apl_young, prior, prior_senior, scale
        As :func:`fit_supply`.
    grid : sequence of float
        The values of ``lam`` tried.
    folds : int
        Number of groups (at least 2).
    seed : int
        Seed of the random assignment of communes to groups.

    Returns
    -------
    lam : float
        The best value.
    table : pandas.DataFrame
        Per ``lam``: ``regularisation``, ``mae_heldout`` (all practitioners), ``mae_young_heldout``
        (when ``apl_young`` is given), ``spearman_heldout``.
    """
    from engine.apl.agreement import spearman

    a_op = catchment_operator(weights, demand)
    n = a_op.shape[0]
    if folds < 2 or folds > n:
        raise InputError(f"folds must be between 2 and the number of communes ({n}), got {folds}",
                         column="folds")
    apl = finite_vector(apl, "apl", size=n, non_negative=True)
    young = None if apl_young is None else finite_vector(apl_young, "apl_young", size=n,
                                                         non_negative=True)
    d = np.asarray(demand, dtype=np.float64)
    prior_y, prior_o, _ = _priors(a_op, d, apl, young, prior, prior_senior)
    group = np.random.default_rng(seed).permutation(n) % folds
    rows = []
    starts: dict = {}  # each fold's last solution starts the next value of lam
    for lam in grid:
        pred = np.empty(n)
        pred_y = np.empty(n)
        for g in range(folds):
            test = group == g
            y, o, starts[g] = _solve(a_op, np.flatnonzero(~test), apl, young, prior_y, prior_o,
                                     float(lam), scale, starts.get(g))
            pred[test] = (a_op @ (y + o))[test]
            pred_y[test] = (a_op @ y)[test]
        row = {"regularisation": float(lam), "mae_heldout": float(np.abs(pred - apl).mean()),
               "spearman_heldout": spearman(pred, apl)}
        if young is not None:
            row["mae_young_heldout"] = float(np.abs(pred_y - young).mean())
        rows.append(row)
    table = pd.DataFrame(rows)
    score = table["mae_heldout"] + (table["mae_young_heldout"] if young is not None else 0.0)
    return float(table["regularisation"].iloc[int(np.argmin(score.to_numpy()))]), table


def fit_supply(weights, demand, apl, apl_young=None, prior=None, *, prior_senior=None,
               scale: float, regularisation: float | None = None, grid=DEFAULT_GRID,
               folds: int = 5, seed: int = 0) -> SupplyFit:
    """The supply per commune that best reproduces the official APL through these catchments.

    Parameters
    ----------
    weights : scipy.sparse matrix
        The engine's decay weights between communes (rows demand, columns supply).
    demand : array-like
        Demand per commune (standardised population of the data year).
    apl : array-like
        Official APL per commune, every practitioner.
    apl_young : array-like, optional
        Official APL counting only practitioners at or under the variant age (for GPs the
        DREES "65 ans et moins"); gives the split between young and senior supply.
    prior : array-like, optional
        The roster's supply per commune (counted activity), which the fit is pulled toward
        after scaling it to the official total.
    prior_senior : array-like, optional
        The roster's supply from practitioners over the variant age, when ages are known
        (default: the region's own share of supply over the variant age, in every commune).
    scale : float
        One practitioner's default activity (the unit of the regularisation).
    regularisation : float, optional
        ``lam``; default chosen by :func:`choose_regularisation`.
    grid, folds, seed
        For :func:`choose_regularisation`.

    Returns
    -------
    SupplyFit

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> w = sp.csr_matrix(np.eye(3))
    >>> fit = fit_supply(w, [1.0, 1.0, 1.0], [3.0, 0.0, 2.0], scale=1.0, regularisation=1e-9)
    >>> fit.total.round(6).tolist()
    [3.0, 0.0, 2.0]
    """
    a_op = catchment_operator(weights, demand)
    n = a_op.shape[0]
    apl = finite_vector(apl, "apl", size=n, non_negative=True)
    young = None if apl_young is None else finite_vector(apl_young, "apl_young", size=n,
                                                         non_negative=True)
    scale = positive_number(scale, "scale")
    d = np.asarray(demand, dtype=np.float64)
    cv = None
    if regularisation is None:
        regularisation, cv = choose_regularisation(weights, d, apl, young, prior,
                                                   prior_senior=prior_senior, scale=scale,
                                                   grid=grid, folds=folds, seed=seed)
    prior_y, prior_o, total_scale = _priors(a_op, d, apl, young, prior, prior_senior)
    y, o, _ = _solve(a_op, np.arange(n), apl, young, prior_y, prior_o, float(regularisation),
                     scale)
    return SupplyFit(young=y, senior=o, prior_young=prior_y, prior_senior=prior_o,
                     regularisation=float(regularisation), scale=float(scale),
                     total_scale=float(total_scale), fitted=np.asarray(a_op @ (y + o)),
                     fitted_young=None if young is None else np.asarray(a_op @ y), cv=cv)
