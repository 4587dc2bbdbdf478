"""The starting state of every scenario: "today", as the official values see it.

A :class:`Baseline` is the observed state of the data year (year 0): the APL of each
commune, and the practitioners ("slots") whose retirements and replacements the scenarios
play forward, with their counted activity and their age (known, or a probability of being
over the variant age to draw it from).

- :func:`official_baseline` (the default where official values exist) starts from the
  official APL exactly. The supply per commune is calibrated on the official values through
  the engine's own catchments (:func:`engine.apl.calibration.fit_supply`): listed
  practitioners share their commune's calibrated supply in proportion to their counted
  activity, supply the fit places in a commune without any listed practitioner becomes
  **unlisted practitioners** (flagged, with imputed ages), and a
  :class:`~engine.apl.calibration.Correction` carries what the catchments cannot reproduce,
  so that year 0 equals the official APL. Every change then acts relative to that state.
- :func:`model_baseline` starts from the engine's own recomputation with the roster, for a
  planner with a complete roster and no official values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.apl import bounded_activity, supply_by_commune
from engine.apl.calibration import (
    DEFAULT_GRID,
    Correction,
    SupplyFit,
    choose_regularisation,
    correction,
    fit_supply,
)
from engine.errors import InputError
from scenarios.ages import (
    ages_from_roster,
    draw_ages_by_probability,
    estimate_senior_share,
    pyramid_senior_share,
)

__all__ = ["Baseline", "baseline", "model_baseline", "official_baseline"]

#: Fitted supply below this share of one practitioner's activity is not turned into an
#: unlisted practitioner (it is a rounding of the fit, not a doctor).
_MIN_UNLISTED = 0.05


@dataclass
class Baseline:
    """The observed state of the data year (see the module notes).

    Attributes
    ----------
    kind : {"official", "model"}
        Where year 0 comes from.
    year : int
        The data year.
    apl : numpy.ndarray
        APL of each commune in year 0 (the official values, or the model's).
    model_apl : numpy.ndarray
        The engine's own recomputation with the roster, every practitioner (``apl_modele``).
    fitted_apl : numpy.ndarray
        The engine's APL with the slots' supply, before the correction.
    correction : Correction
        ``apl = correction.apply(fitted_apl)``.
    slot_commune, slot_activity : numpy.ndarray
        Commune (row) and counted yearly activity of each practitioner.
    slot_age : numpy.ndarray
        Age in the data year (NaN where unknown).
    slot_senior_probability : numpy.ndarray
        Probability of being over the variant age, for slots of unknown age.
    slot_unlisted : numpy.ndarray of bool
        True for practitioners the calibration added where the roster lists none.
    slot_practitioner : numpy.ndarray of int
        Row of the region's roster of each listed slot (-1 for unlisted ones).
    fit : SupplyFit or None
        The calibration (official baseline).
    official_young : numpy.ndarray or None
        The official APL of practitioners at or under the variant age, when known.
    activity_scale : float
        Factor applied to the roster's activity to match the official total supply (1 for
        the model baseline); new installations get the default activity times this.
    """

    kind: str
    year: int
    apl: np.ndarray
    model_apl: np.ndarray
    fitted_apl: np.ndarray
    correction: Correction
    slot_commune: np.ndarray
    slot_activity: np.ndarray
    slot_age: np.ndarray
    slot_senior_probability: np.ndarray
    slot_unlisted: np.ndarray
    slot_practitioner: np.ndarray = field(default=None, repr=False)
    fit: SupplyFit | None = field(default=None, repr=False)
    official_young: np.ndarray | None = field(default=None, repr=False)
    activity_scale: float = 1.0

    @property
    def n_slots(self) -> int:
        """Number of practitioners, listed and unlisted."""
        return len(self.slot_commune)

    @property
    def n_unlisted(self) -> int:
        """Number of unlisted practitioners."""
        return int(self.slot_unlisted.sum())

    def new_practitioner_activity(self, profession, activity: float | None = None) -> float:
        """Counted yearly activity of one new practitioner on this baseline's scale.

        Parameters
        ----------
        profession : engine.apl.Profession
            Whose default activity and bounds.
        activity : float, optional
            Yearly consultations asked for (default: the profession's default activity).

        Returns
        -------
        float
            The activity as counted (bounded as the profession's supply counts it), times
            :attr:`activity_scale`.
        """
        return _counted_activity(profession, activity) * self.activity_scale

    def supply(self, n_communes: int) -> np.ndarray:
        """Supply per commune in year 0."""
        return supply_by_commune(self.slot_commune, self.slot_activity, n_communes)

    def ages(self, *, draws: int = 1, seed: int = 0, profession="gp") -> np.ndarray:
        """Ages in the data year, ``(draws, n_slots)``: known ones, drawn ones elsewhere.

        Where ages are drawn, the ``k`` practitioners of unknown age of a commune (sharing
        one probability ``p`` of being over the variant age) count exactly ``floor(k p)`` or
        ``ceil(k p)`` seniors in each draw (randomised rounding, ``k p`` on average, the
        seniors picked at random among them), so that a commune's senior supply is its
        calibrated share as closely as whole practitioners allow; their ages are then drawn
        from the profession's pyramid on their side of the variant age.
        """
        known = np.isfinite(self.slot_age)
        ages = np.empty((draws, self.n_slots), dtype=np.float64)
        ages[:, known] = self.slot_age[known]
        unknown = np.flatnonzero(~known)
        if len(unknown):
            rng = np.random.default_rng(seed)
            senior = np.zeros((draws, len(unknown)), dtype=bool)
            keys = pd.DataFrame({"c": self.slot_commune[unknown],
                                 "p": self.slot_senior_probability[unknown]})
            for positions in keys.groupby(["c", "p"], sort=True).indices.values():
                k = len(positions)
                p = float(np.clip(keys["p"].iloc[positions[0]], 0.0, 1.0))
                count = np.floor(k * p + rng.random(draws)).astype(np.int64)
                order = np.argsort(rng.random((draws, k)), axis=1)
                rank = np.empty_like(order)
                np.put_along_axis(rank, order, np.arange(k)[None, :].repeat(draws, 0), axis=1)
                senior[:, positions] = rank < count[:, None]
            drawn = draw_ages_by_probability(senior.astype(np.float64).ravel(), draws=1,
                                             seed=int(rng.integers(2**32)),
                                             profession=profession)
            ages[:, unknown] = drawn.reshape(draws, len(unknown))
        return ages

    def roster_ages(self, n_practitioners: int, *, seed: int = 0, profession="gp") -> np.ndarray:
        """One draw of ages, by row of the region's roster (known ages as they are)."""
        ages = self.ages(draws=1, seed=seed, profession=profession)[0]
        out = np.full(n_practitioners, np.nan)
        listed = self.slot_practitioner >= 0
        out[self.slot_practitioner[listed]] = ages[listed]
        return out

    def expected_supply(self, n_communes: int, *, years_ahead: int, retirement_age: float | None,
                        draws: int = 200, seed: int = 0, profession="gp") -> np.ndarray:
        """Expected supply per commune ``years_ahead`` after the data year if practitioners
        stop once over ``retirement_age`` (``None``: everybody stays); ``years_ahead=0``
        with the variant age gives the "younger practitioners only" supply of year 0."""
        if retirement_age is None:
            keep = np.ones(self.n_slots)
        else:
            ages = self.ages(draws=draws, seed=seed, profession=profession) + years_ahead
            keep = (ages <= retirement_age).mean(axis=0)
        return supply_by_commune(self.slot_commune, self.slot_activity * keep, n_communes)


def _counted_activity(prof, activity: float | None) -> float:
    """One practitioner's counted activity (the profession's default when ``None``), unscaled."""
    value = prof.activity.default if activity is None else activity
    return float(bounded_activity([value], profession=prof)[0])


def _roster(region):
    """Commune, counted activity, known age (NaN where unknown) of each listed practitioner.

    Ages flagged ``age_imputed`` (as ``apl data export`` writes the ages it drew) are unknown.
    """
    commune = np.asarray(region.practitioner_commune, dtype=np.int64)
    activity = region.practitioner_activity()
    p = region.practitioners
    age = np.full(len(commune), np.nan)
    if "age" in p or "birth_year" in p:
        given = pd.to_numeric(p["age"], errors="coerce") if "age" in p else None
        known = (given.notna() if given is not None else pd.Series(True, index=p.index))
        if "age_imputed" in p:
            known &= ~p["age_imputed"].fillna(False).astype(bool)
        if known.any():
            age[known.to_numpy()] = ages_from_roster(p[known], region.year).astype(np.float64)
    return commune, activity, age


def model_baseline(region) -> Baseline:
    """Year 0 is the engine's own APL with the roster.

    Ages are the roster's; where it has none they are drawn, each practitioner being over
    the variant age with its commune's share fitted on the official "younger practitioners"
    variant when the region has one (:func:`scenarios.ages.estimate_senior_share`), else the
    profession's national share (its age pyramid).
    """
    prof = region.profession
    commune, activity, age = _roster(region)
    n = region.n_communes
    model = region.apl()
    p_senior = np.full(len(commune), pyramid_senior_share(prof))
    off = region.official_values()
    if np.isnan(age).any() and off is not None and "apl_moins_65" in off:
        share = estimate_senior_share(region.weights, region.demand, region.supply(),
                                      off["apl"].fillna(0).to_numpy(),
                                      off["apl_moins_65"].fillna(0).to_numpy(), apl_model=model)
        p_senior = share[commune]
    return Baseline(kind="model", year=region.year, apl=model, model_apl=model,
                    fitted_apl=model, correction=Correction.identity(n), slot_commune=commune,
                    slot_activity=activity, slot_age=age, slot_senior_probability=p_senior,
                    slot_unlisted=np.zeros(len(commune), dtype=bool),
                    slot_practitioner=np.arange(len(commune)))


def _official(region) -> tuple[np.ndarray, np.ndarray | None]:
    off = region.official_values()
    if off is None or "apl" not in off or off["apl"].isna().all():
        raise InputError(f"region {region.name!r} has no official values for its communes: use "
                         "the model baseline (--baseline model) or give them (--official FILE)",
                         column="apl")
    missing = off["apl"].isna()
    if missing.any():
        raise InputError(f"{int(missing.sum())} commune(s) of region {region.name!r} have no "
                         f"official APL (first: {off['code_commune'][missing].iloc[0]}): give every "
                         "commune a value, or use --baseline model", column="apl")
    apl = off["apl"].to_numpy(np.float64)
    young = None
    if "apl_moins_65" in off and off["apl_moins_65"].notna().all():
        young = off["apl_moins_65"].to_numpy(np.float64)
    return apl, young


#: Bump when the cross-validation changes, so that cached choices are not reused.
_CV_CACHE_VERSION = 1


def _chosen_regularisation(region, apl, young, prior, prior_senior, unit, folds, seed):
    """:func:`choose_regularisation`, remembered in the cache folder for the same inputs.

    The cross-validation fits the supply 55 times (about a second on Corsica) for the same
    answer every run on the same data: its choice and table are kept under a hash of every
    input array and setting, so any change of data or method computes it afresh.
    """
    from engine import __version__, settings

    w = region.weights.tocsr()
    h = hashlib.sha256(f"{_CV_CACHE_VERSION}|{__version__}|{unit!r}|{folds}|{seed}|"
                       f"{DEFAULT_GRID!r}|{w.shape}".encode())
    for part in (w.indptr, w.indices, w.data, region.demand, apl, young, prior, prior_senior):
        h.update(b"-" if part is None else np.ascontiguousarray(part, dtype=np.float64).tobytes())
    path = settings.cache_folder() / "calibration" / f"{h.hexdigest()[:32]}.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return float(saved["regularisation"]), pd.DataFrame(saved["cv"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    lam, table = choose_regularisation(region.weights, region.demand, apl, young, prior,
                                       prior_senior=prior_senior, scale=unit, folds=folds,
                                       seed=seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"regularisation": lam, "cv": table.to_dict(orient="list")}),
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only cache only costs the second next time
        pass
    return lam, table


def official_baseline(region, *, regularisation: float | None = None, folds: int = 5,
                      seed: int = 0) -> Baseline:
    """Year 0 is the official APL; the supply behind it is calibrated on it.

    Parameters
    ----------
    region : engine.region.Region
        With official values for every commune (``apl``, and ``apl_moins_65`` to split the
        supply by age).
    regularisation : float, optional
        Weight of the roster in the calibration; default chosen by cross-validation
        (:func:`engine.apl.calibration.choose_regularisation`).
    folds, seed : int
        Of the cross-validation.

    Returns
    -------
    Baseline

    Raises
    ------
    InputError
        When a commune has no official value.
    """
    prof = region.profession
    n = region.n_communes
    apl, young = _official(region)
    commune, activity, age = _roster(region)
    limit = prof.variant_max_age
    known = np.isfinite(age)
    prior = supply_by_commune(commune, activity, n)
    prior_senior = None
    if young is not None and known.all() and limit is not None:
        prior_senior = supply_by_commune(commune, np.where(age > limit, activity, 0.0), n)
    unit = _counted_activity(prof, None)
    cv = None
    if regularisation is None:
        regularisation, cv = _chosen_regularisation(region, apl, young, prior, prior_senior,
                                                    unit, folds, seed)
    fit = fit_supply(region.weights, region.demand, apl, young, prior, prior_senior=prior_senior,
                     scale=unit, regularisation=regularisation, folds=folds, seed=seed)
    if cv is not None:
        fit = dataclasses.replace(fit, cv=cv)
    unit_scaled = unit * fit.total_scale

    total, senior = fit.total, fit.senior
    share = fit.senior_share if young is not None else np.full(n, pyramid_senior_share(prof))
    slot_commune, slot_activity, slot_age, slot_p, slot_unlisted = [], [], [], [], []
    slot_row = []

    def add(j, act, a, p, unlisted, rows):
        slot_row.append(np.asarray(rows, dtype=np.int64))
        slot_commune.append(np.full(len(act), j, dtype=np.int64))
        slot_activity.append(np.asarray(act, dtype=np.float64))
        slot_age.append(np.asarray(a, dtype=np.float64))
        slot_p.append(np.asarray(p, dtype=np.float64))
        slot_unlisted.append(np.full(len(act), unlisted))

    by_commune = pd.Series(np.arange(len(commune))).groupby(commune).apply(list).to_dict()
    for j in range(n):
        listed = np.asarray(by_commune.get(j, []), dtype=np.int64)
        if prior_senior is not None:
            # Ages known: young and senior practitioners share their own group's supply.
            groups = ((listed[age[listed] <= limit], total[j] - senior[j], 0.0),
                      (listed[age[listed] > limit], senior[j], 1.0))
        else:
            groups = ((listed, total[j], share[j]),)
        for members, supply, p in groups:
            if len(members):
                base = activity[members]
                weights = base / base.sum() if base.sum() > 0 else np.full(len(members),
                                                                          1.0 / len(members))
                add(j, supply * weights, age[members], np.full(len(members), p), False, members)
            elif supply > _MIN_UNLISTED * unit_scaled:
                k = max(1, int(round(supply / unit_scaled)))
                add(j, np.full(k, supply / k), np.full(k, np.nan), np.full(k, p), True,
                    np.full(k, -1))
    slot_commune = np.concatenate(slot_commune) if slot_commune else np.zeros(0, np.int64)
    slot_activity = np.concatenate(slot_activity) if slot_activity else np.zeros(0)
    slot_age = np.concatenate(slot_age) if slot_age else np.zeros(0)
    slot_p = np.concatenate(slot_p) if slot_p else np.zeros(0)
    slot_unlisted = np.concatenate(slot_unlisted) if slot_unlisted else np.zeros(0, bool)
    slot_row = np.concatenate(slot_row) if slot_row else np.zeros(0, np.int64)
    # The correction is computed on the slots' own supply, so that year 0 is exact.
    fitted = region.catchment.accessibility(supply_by_commune(slot_commune, slot_activity, n),
                                            warn=False)
    return Baseline(kind="official", year=region.year, apl=apl, model_apl=region.apl(),
                    fitted_apl=fitted, correction=correction(fitted, apl),
                    slot_commune=slot_commune, slot_activity=slot_activity, slot_age=slot_age,
                    slot_senior_probability=slot_p, slot_unlisted=slot_unlisted,
                    slot_practitioner=slot_row, fit=fit,
                    official_young=young, activity_scale=fit.total_scale)


def baseline(region, kind: str | None = None, **kwargs) -> Baseline:
    """The baseline of a region: ``"official"`` (default where official values exist) or
    ``"model"``.

    Parameters
    ----------
    region : engine.region.Region
    kind : {"official", "model"}, optional
    **kwargs
        Passed to :func:`official_baseline`.
    """
    if kind is None:
        off = region.official_values()
        kind = "official" if off is not None and off["apl"].notna().all() else "model"
    if kind == "official":
        return official_baseline(region, **kwargs)
    if kind == "model":
        return model_baseline(region)
    raise InputError(f"baseline must be 'official' or 'model', got {kind!r}", column="baseline")
