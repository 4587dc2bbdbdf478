"""Practitioner ages: from a roster when the user has one, otherwise imputed.

Public data hold no GP ages (the RPPS has no birth dates, the BPE gives counts). DREES
publishes, per commune, the APL with all GPs and with GPs aged 65 or less only. For a fixed
demand the APL is linear in supply, so the gap between the two variants is a linear image of
the supply given by GPs over 65:

    apl_i - apl_u65_i = sum_j  A_ij * s_j * S_j,   A_ij = w(t_ij) / D_j

where ``S_j`` is the supply located in commune ``j``, ``s_j`` in [0, 1] the share of it given
by GPs over 65, and ``D_j`` the demand in reach of ``j``. :func:`estimate_senior_share`
solves for ``s`` by bounded least squares (``scipy.optimize.lsq_linear``) on the *relative*
gap ``1 - apl_u65 / apl`` of DREES, applied to the engine's own APL (so that differences of
distancier and supply between the engine and DREES cancel out as far as possible).

:func:`draw_ages` then gives each GP an age: GP ``k`` of commune ``j`` is over 65 with
probability ``s_j`` and its age is drawn from the national pyramid restricted to the chosen
side of 65. Every draw takes a seed.

The national pyramid (:data:`GP_AGE_PYRAMID`) is the age structure of general practitioners
in activity in France around 2022, in five-year bands, **approximated** from the shapes DREES
and the Ordre des médecins publish (RPPS, *Démographie des professionnels de santé*; CNOM,
*Atlas de la démographie médicale*: roughly 30% of GPs aged 60 and over, a thinner cohort
in their 40s). Its over-65 mass (12%) is anchored on DREES itself: without GPs over 65 the
national APL falls from 3.79 to 3.34 (2022), a 12% drop of supply. The pyramid only shapes
ages *within* each side of 65; the side is set per commune by ``s_j`` above.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear

from engine.errors import InputError

#: (first age, last age, share of GPs) for GPs in activity, France, around 2022 (approximate,
#: see the module docstring). Shares sum to 1; the mass above 65 is 0.12.
GP_AGE_PYRAMID: tuple[tuple[int, int, float], ...] = (
    (28, 29, 0.02),
    (30, 34, 0.09),
    (35, 39, 0.12),
    (40, 44, 0.12),
    (45, 49, 0.11),
    (50, 54, 0.11),
    (55, 59, 0.13),
    (60, 65, 0.18),
    (66, 69, 0.08),
    (70, 74, 0.03),
    (75, 79, 0.01),
)


def estimate_senior_share(
    weights,
    demand: np.ndarray,
    supply: np.ndarray,
    apl_all: np.ndarray,
    apl_u65: np.ndarray,
    *,
    apl_model: np.ndarray | None = None,
) -> np.ndarray:
    """Share of each commune's supply given by GPs over 65, fitted on DREES' two variants.

    Parameters
    ----------
    weights : scipy.sparse matrix
        Decay weights, rows = communes of residence (demand), columns = supply communes.
    demand : numpy.ndarray
        Standardised population of each row.
    supply : numpy.ndarray
        Supply (consultations) located in each column.
    apl_all, apl_u65 : numpy.ndarray
        Official DREES APL of each row, with all GPs and with GPs aged 65 or less.
    apl_model : numpy.ndarray, optional
        The engine's APL with all GPs for the same rows (computed when omitted).

    Returns
    -------
    numpy.ndarray
        ``s_j`` in [0, 1] per column (0 where there is no supply).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> w = sp.csr_matrix(np.eye(2))
    >>> estimate_senior_share(w, np.ones(2), np.array([4.0, 4.0]), np.array([4.0, 4.0]),
    ...                       np.array([3.0, 4.0])).round(3)
    array([0.25, 0.  ])
    """
    import scipy.sparse as sp

    w = sp.csr_matrix(weights, dtype=np.float64)
    demand = np.asarray(demand, dtype=np.float64)
    supply = np.asarray(supply, dtype=np.float64)
    reach = np.asarray(w.T @ demand).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(reach > 0, 1.0 / reach, 0.0)
    a = w @ sp.diags(inv * supply)  # A_ij * S_j
    if apl_model is None:
        apl_model = np.asarray(a @ np.ones(w.shape[1])).ravel()
    apl_all = np.asarray(apl_all, dtype=np.float64)
    apl_u65 = np.asarray(apl_u65, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_gap = np.where(apl_all > 0, 1.0 - apl_u65 / apl_all, 0.0)
    rel_gap = np.clip(np.nan_to_num(rel_gap), 0.0, 1.0)
    target = rel_gap * apl_model
    cols = np.flatnonzero(supply > 0)
    s = np.zeros(w.shape[1])
    if len(cols) == 0:
        return s
    sub = a[:, cols].toarray() if sp.issparse(a) else a[:, cols]
    res = lsq_linear(sub, target, bounds=(0.0, 1.0), method="bvls" if len(cols) <= 2000 else "trf")
    s[cols] = np.clip(res.x, 0.0, 1.0)
    return s


def _sample_from_pyramid(rng: np.random.Generator, n: int, senior: bool) -> np.ndarray:
    bands = [(lo, hi, p) for lo, hi, p in GP_AGE_PYRAMID if (lo > 65) == senior]
    probs = np.array([p for _, _, p in bands])
    probs = probs / probs.sum()
    which = rng.choice(len(bands), size=n, p=probs)
    lo = np.array([b[0] for b in bands])[which]
    hi = np.array([b[1] for b in bands])[which]
    return lo + rng.integers(0, hi - lo + 1)


def draw_ages(
    commune_index: np.ndarray,
    senior_share: np.ndarray,
    *,
    draws: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Draw an age for every GP, given each commune's share of supply over 65.

    Parameters
    ----------
    commune_index : numpy.ndarray
        Column (supply commune) of each GP.
    senior_share : numpy.ndarray
        ``s_j`` per column, from :func:`estimate_senior_share`.
    draws : int
        Number of independent draws.
    seed : int
        Seed of the random generator; the same seed gives the same ages.

    Returns
    -------
    numpy.ndarray
        Integer ages, shape ``(draws, n_gps)``.

    Examples
    --------
    >>> draw_ages(np.array([0, 0, 1]), np.array([1.0, 0.0]), draws=2, seed=1).min(axis=0) > [65, 65, 0]
    array([ True,  True,  True])
    """
    commune_index = np.asarray(commune_index, dtype=np.int64)
    share = np.clip(np.asarray(senior_share, dtype=np.float64), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    n = len(commune_index)
    p = share[commune_index] if n else np.zeros(0)
    senior = rng.random((draws, n)) < p
    ages = np.empty((draws, n), dtype=np.int64)
    ages[senior] = _sample_from_pyramid(rng, int(senior.sum()), True)
    ages[~senior] = _sample_from_pyramid(rng, int((~senior).sum()), False)
    return ages


def ages_from_roster(practitioners: pd.DataFrame, year: int) -> np.ndarray:
    """Ages in ``year`` from a roster's ``age`` or ``birth_year`` column.

    Parameters
    ----------
    practitioners : pandas.DataFrame
        One row per GP with ``birth_year`` or ``age`` (the age in ``year``).
    year : int
        The reference year.

    Returns
    -------
    numpy.ndarray
        Float ages.

    Raises
    ------
    InputError
        When neither column is present, or a value is missing or implausible.
    """
    if "birth_year" in practitioners:
        col = "birth_year"
        raw = pd.to_numeric(practitioners[col], errors="coerce").to_numpy(float)
        ages = year - raw
    elif "age" in practitioners:
        col = "age"
        ages = pd.to_numeric(practitioners[col], errors="coerce").to_numpy(float)
    else:
        raise InputError("the practitioners have neither 'birth_year' nor 'age'", column="age")
    bad = ~np.isfinite(ages) | (ages < 20) | (ages > 100)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"value {practitioners[col].iloc[i]!r} gives an age of {ages[i]} in {year}; "
                         "expected a number between 20 and 100", row=i + 1, column=col)
    return ages
