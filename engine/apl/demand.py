"""Demand of the APL: the population of each commune, standardised by age.

``P_i = sum_band pop_i,band * weight_band`` with the profession's weights of the data year
(for GPs, DREES's 19 five-year bands: 0.55 at 10-14 years, 2.39 over 90 in 2022). This is
the only place the standardised population is computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine._validate import show
from engine.apl.profession import Profession
from engine.apl.profession import profession as as_profession
from engine.errors import InputError

__all__ = ["AGE_BANDS", "commune_demand", "standardised_population"]

#: The 19 five-year age bands of the DREES standardisation, as column names.
AGE_BANDS: tuple[str, ...] = as_profession("gp").bands


def standardised_population(pop_by_age_band, year: int = 2022, *,
                            profession: str | Profession = "gp"):
    """Population weighted by age-specific consumption of care (population standardisée).

    Parameters
    ----------
    pop_by_age_band : pandas.DataFrame or array-like of shape (..., n_bands)
        Population per age band: a DataFrame with the profession's band columns (for GPs
        :data:`AGE_BANDS`: ``"0-4"``, ``"5-9"``, ..., ``"85-89"``, ``"90+"``), or an array
        whose last axis holds the bands in that order.
    year : int
        Data year of the weights (2022 or 2023 for GPs).
    profession : str, path-like or Profession
        Whose weights (default ``"gp"``).

    Returns
    -------
    pandas.Series or numpy.ndarray
        ``sum_band pop * weight`` per row (a Series with the frame's index for a DataFrame).

    Raises
    ------
    InputError
        On missing bands, negative or non-finite counts, or a year without weights.

    Examples
    --------
    >>> import numpy as np
    >>> pop = np.zeros(19); pop[0] = 100; pop[-1] = 10
    >>> float(standardised_population(pop, 2022))
    116.9
    """
    prof = as_profession(profession)
    w = prof.age_weights_for(year)
    bands = list(prof.bands)
    if isinstance(pop_by_age_band, pd.DataFrame):
        missing = [b for b in bands if b not in pop_by_age_band.columns]
        if missing:
            raise InputError(f"missing age-band column(s) {missing}; expected {bands}",
                             column=missing[0])
        arr = pop_by_age_band.loc[:, bands].to_numpy(dtype=np.float64)
        _check_counts(arr, bands, pop_by_age_band.index)
        return pd.Series(arr @ w, index=pop_by_age_band.index, name="pop_standardisee")
    arr = np.asarray(pop_by_age_band, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != len(bands):
        raise InputError(f"expected {len(bands)} age bands on the last axis, got shape {arr.shape}")
    _check_counts(arr.reshape(-1, len(bands)), bands, None)
    return arr @ w


def _check_counts(arr: np.ndarray, columns, index) -> None:
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        r, c = (int(x) for x in np.argwhere(bad)[0])
        row = index[r] if index is not None else r
        raise InputError(f"population {show(arr[r, c])} must be finite and non-negative",
                         row=row, column=columns[c])


def commune_demand(communes: pd.DataFrame, *, year: int = 2022,
                   profession: str | Profession = "gp") -> tuple[pd.DataFrame, np.ndarray]:
    """Validate a communes table and return its standardised population.

    Parameters
    ----------
    communes : pandas.DataFrame
        One row per commune: ``code_commune`` and either ``pop_standardisee`` or the
        profession's age-band columns (or ``pop_totale`` for a profession whose demand is
        the total population); ``pop_totale`` is checked when present.
    year : int
        Data year of the age weights, used when ``pop_standardisee`` is absent.
    profession : str, path-like or Profession
        Whose weights.

    Returns
    -------
    table : pandas.DataFrame
        ``communes`` with ``code_commune`` as strings.
    demand : numpy.ndarray
        Demand per commune, in order: the standardised population (or the total
        population, for a profession whose demand is unweighted).

    Raises
    ------
    InputError
        On duplicate codes, missing columns, negative or non-finite populations.

    Examples
    --------
    >>> t, d = commune_demand(pd.DataFrame({"code_commune": ["2A004"], "pop_standardisee": [10.0]}))
    >>> d
    array([10.])
    """
    if not isinstance(communes, pd.DataFrame):
        raise InputError(f"communes must be a pandas DataFrame, got {type(communes).__name__}")
    if "code_commune" not in communes.columns:
        raise InputError("communes lack the column 'code_commune'", column="code_commune")
    codes = communes["code_commune"].astype(str)
    dup = codes.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"duplicate commune code {codes.iloc[row]!r} ({int(dup.sum())} "
                         "duplicate(s)); give one row per commune", row=row, column="code_commune")
    prof = as_profession(profession)
    total = None
    if "pop_totale" in communes.columns:
        total = pd.to_numeric(communes["pop_totale"], errors="coerce").to_numpy(np.float64)
        _check_column(total, codes, "pop_totale")
    if prof.demand_basis == "total":
        if total is None:
            raise InputError(f"the {prof.label} demand is the total population: communes need a "
                             "'pop_totale' column", column="pop_totale")
        pop = total
    elif "pop_standardisee" in communes.columns:
        pop = pd.to_numeric(communes["pop_standardisee"], errors="coerce").to_numpy(np.float64)
        _check_column(pop, codes, "pop_standardisee")
    else:
        pop = np.asarray(standardised_population(communes, year, profession=prof),
                         dtype=np.float64)
    return communes.assign(code_commune=codes.to_numpy()), np.ascontiguousarray(pop)


def _check_column(values: np.ndarray, codes: pd.Series, column: str) -> None:
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"commune {codes.iloc[i]}: {column} = {show(values[i])}; it must be a "
                         f"finite number >= 0 ({int(bad.sum())} bad row(s))", row=i, column=column)
