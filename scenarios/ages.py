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

The national pyramid is the profession's (``[ages]`` of its definition file: for GPs the age
structure of general practitioners in activity in France around 2022, in five-year bands,
**approximated** from the shapes DREES and the Ordre des médecins publish, its over-65 mass
anchored on the national APL drop; the file says how). The pyramid only shapes ages *within*
each side of the variant age; the side is set per commune by ``s_j`` above.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine._validate import show
from engine.apl import Profession
from engine.apl import profession as as_profession
from engine.apl.calibration import catchment_operator
from engine.errors import InputError


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
        The engine's APL with all GPs for the same rows, e.g. ``region.apl()`` (computed
        from ``weights``, ``demand`` and ``supply`` when omitted).

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
    supply = np.asarray(supply, dtype=np.float64)
    a = catchment_operator(w, demand) @ sp.diags(supply)  # A_ij * S_j
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
    from scipy.optimize import lsq_linear  # 0.2 s to import: only when used

    res = lsq_linear(sub, target, bounds=(0.0, 1.0), method="bvls" if len(cols) <= 2000 else "trf")
    s[cols] = np.clip(res.x, 0.0, 1.0)
    return s


def _sample_from_pyramid(rng: np.random.Generator, n: int, senior: bool, pyramid,
                         split_age: float) -> np.ndarray:
    bands = [(lo, hi, p) for lo, hi, p in pyramid if (lo > split_age) == senior]
    if not bands:
        raise InputError(f"the age pyramid has no band {'over' if senior else 'at or under'} "
                         f"{split_age:g} years", column="ages.pyramid")
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
    profession: str | Profession = "gp",
) -> np.ndarray:
    """Draw an age for every practitioner, given each commune's share of supply over the
    variant age (65 for GPs).

    Parameters
    ----------
    commune_index : numpy.ndarray
        Column (supply commune) of each practitioner.
    senior_share : numpy.ndarray
        ``s_j`` per column, from :func:`estimate_senior_share`.
    draws : int
        Number of independent draws.
    seed : int
        Seed of the random generator; the same seed gives the same ages.
    profession : str, path-like or Profession
        Whose age pyramid and variant age.

    Returns
    -------
    numpy.ndarray
        Integer ages, shape ``(draws, n_practitioners)``.

    Examples
    --------
    >>> draw_ages(np.array([0, 0, 1]), np.array([1.0, 0.0]), draws=2, seed=1).min(axis=0) > [65, 65, 0]
    array([ True,  True,  True])
    """
    commune_index = np.asarray(commune_index, dtype=np.int64)
    share = np.asarray(senior_share, dtype=np.float64)
    p = share[commune_index] if len(commune_index) else np.zeros(0)
    return draw_ages_by_probability(p, draws=draws, seed=seed, profession=profession)


def draw_ages_by_probability(senior_probability, *, draws: int = 1, seed: int = 0,
                             profession: str | Profession = "gp") -> np.ndarray:
    """Draw an age for every practitioner from its probability of being over the variant age.

    Each practitioner is over the variant age (65 for GPs) with its probability, and its age
    is drawn from the profession's age pyramid restricted to that side.

    Parameters
    ----------
    senior_probability : array-like of float
        One probability per practitioner.
    draws : int
        Number of independent draws.
    seed : int
        Seed of the random generator; the same seed gives the same ages.
    profession : str, path-like or Profession
        Whose age pyramid and variant age.

    Returns
    -------
    numpy.ndarray
        Integer ages, shape ``(draws, n_practitioners)``.

    Examples
    --------
    >>> draw_ages_by_probability([1.0, 0.0], draws=3, seed=2).min(axis=0) > [65, 0]
    array([ True,  True])
    """
    prof = as_profession(profession)
    if not prof.age_pyramid or prof.variant_max_age is None:
        raise InputError(f"the {prof.label} definition ({prof.source.name}) has no age pyramid "
                         "or variant age to impute ages from; give the roster an 'age' column",
                         column="age")
    p = np.clip(np.asarray(senior_probability, dtype=np.float64), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    n = len(p)
    senior = rng.random((draws, n)) < p
    ages = np.empty((draws, n), dtype=np.int64)
    split = float(prof.variant_max_age)
    ages[senior] = _sample_from_pyramid(rng, int(senior.sum()), True, prof.age_pyramid, split)
    ages[~senior] = _sample_from_pyramid(rng, int((~senior).sum()), False, prof.age_pyramid, split)
    return ages


def pyramid_senior_share(profession: str | Profession = "gp") -> float:
    """Share of the profession's age pyramid over the variant age (0.12 for GPs)."""
    prof = as_profession(profession)
    if not prof.age_pyramid or prof.variant_max_age is None:
        return 0.0
    return float(sum(share for lo, _, share in prof.age_pyramid if lo > prof.variant_max_age))


def ages_from_roster(practitioners: pd.DataFrame, year: int) -> np.ndarray:
    """Ages in ``year`` from a roster's ``age`` and/or ``birth_year`` column.

    Parameters
    ----------
    practitioners : pandas.DataFrame
        One row per practitioner with ``age`` (the age in ``year``) and/or ``birth_year``.
    year : int
        The reference year.

    Returns
    -------
    numpy.ndarray
        Float ages.

    Raises
    ------
    InputError
        When neither column is present, a value is missing or implausible, or the two
        columns contradict each other (more than one year apart).
    """
    has_age = "age" in practitioners
    has_birth = "birth_year" in practitioners
    if not (has_age or has_birth):
        raise InputError("the practitioners have neither 'age' nor 'birth_year'", column="age")
    from_birth = (year - pd.to_numeric(practitioners["birth_year"], errors="coerce").to_numpy(float)
                  if has_birth else None)
    ages = (pd.to_numeric(practitioners["age"], errors="coerce").to_numpy(float) if has_age
            else from_birth)
    col = "age" if has_age else "birth_year"
    if has_age and has_birth:
        both = np.isfinite(ages) & np.isfinite(from_birth)
        clash = both & (np.abs(ages - from_birth) > 1)
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise InputError(f"age {ages[i]:g} and birth year {year - from_birth[i]:g} disagree "
                             f"in {year} ({int(clash.sum())} such row(s)); keep one of the two "
                             "columns or correct the row", row=practitioners.index[i], column="age")
        ages = np.where(np.isfinite(ages), ages, from_birth)
    bad = ~np.isfinite(ages) | (ages < 20) | (ages > 100)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = practitioners[col].iloc[i]
        given = "an empty value" if pd.isna(raw) else f"{show(raw)} (age {ages[i]:g} in {year})"
        raise InputError(f"{given}: expected an age between 20 and 100",
                         row=practitioners.index[i], column=col)
    return ages
