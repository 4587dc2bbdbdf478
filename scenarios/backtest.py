"""How well a forecast made from one year's official values predicted the next year's.

:func:`backtest` starts from the official values of the first year (the official baseline,
calibrated on them alone), simulates to the second year with a scenario, feeding it the
second year's official populations (known inputs, not predictions), and compares the
prediction with the second year's official APL. Nothing is fitted on the second year's APL.

The comparisons (:class:`Backtest`):

- the population share in deficit: predicted (mean and 80 % interval over draws) against
  observed;
- per commune: Spearman, mean absolute error and class agreement of the prediction, and of
  **persistence** (the first year's values unchanged);
- among communes at or above the deficit threshold in the first year, the ones that fell
  under it: AUC and Brier score of the forecast's probability of deficit, against
  persistence (probability 0 for every commune) and against a forecast read off the official
  younger-practitioners variant (probability 1 where it is under the threshold);
- the communes that fell and were not foreseen (probability under 0.5), with their
  first-year values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.apl import class_index
from engine.apl.agreement import auc, brier, compare
from engine.errors import InputError
from scenarios.baseline import Baseline, official_baseline
from scenarios.config import Scenario, load_scenario
from scenarios.forecast import Forecast, forecast

__all__ = ["Backtest", "backtest"]


@dataclass
class Backtest:
    """The result of :func:`backtest`.

    Attributes
    ----------
    communes : pandas.DataFrame
        Per commune: ``code_commune``, ``nom``, ``pop_totale`` (second year),
        ``apl_from``, ``apl_u65_from``, ``apl_to`` (official values), ``apl_mean``,
        ``apl_median``, ``apl_p10``, ``apl_p90`` (predicted for the second year),
        ``p_deficit``, ``classe_from``, ``classe_to``, ``classe_predicted``, ``fell`` (at
        or above the threshold the first year, under it the second), ``rose``.
    summary : pandas.DataFrame
        One row per figure: ``figure``, ``forecast``, ``persistence``, ``u65_variant``,
        ``observed`` (see the module notes).
    unforeseen : pandas.DataFrame
        The communes that fell with a probability under 0.5, with their first-year values.
    figures : dict
        The same figures by name.
    from_year, to_year : int
    forecast : Forecast
    """

    communes: pd.DataFrame
    summary: pd.DataFrame
    unforeseen: pd.DataFrame
    figures: dict
    from_year: int
    to_year: int
    forecast: Forecast = field(repr=False)


def _aligned(region, table: pd.DataFrame, what: str) -> pd.DataFrame:
    t = table.drop_duplicates("code_commune").set_index("code_commune").reindex(region.codes)
    missing = t["apl"].isna() if "apl" in t else pd.Series(True, index=t.index)
    if missing.any():
        raise InputError(f"{int(missing.sum())} commune(s) of region {region.name!r} have no "
                         f"official APL for {what} (first: {t.index[missing.to_numpy()][0]})",
                         column="apl")
    return t.reset_index()


def backtest(region, official_to: pd.DataFrame, *, to_year: int,
             scenario: Scenario | str = "retirement-hazard", draws: int = 500, seed: int = 0,
             baseline: Baseline | None = None, progress=None) -> Backtest:
    """Forecast the official APL of ``to_year`` from the region's data year and compare.

    Parameters
    ----------
    region : engine.region.Region
        Data year = the first year, with its official values (``apl``, ``apl_moins_65``).
    official_to : pandas.DataFrame
        Official values of ``to_year`` per ``code_commune``: ``apl`` (what is predicted),
        ``pop_standardisee`` and ``pop_totale`` (the year's populations, used as known
        inputs), optionally ``apl_moins_65``.
    to_year : int
        The second year (after the data year).
    scenario : Scenario or str
        What happens in between (default: the default scenario, ``retirement-hazard``);
        its horizon and start year are replaced by the backtest's, and its installations
        after ``to_year`` are left out (they have not happened by then).
    draws, seed : int
        Monte Carlo settings.
    baseline : Baseline, optional
        The official baseline of the first year (computed when omitted).
    progress : callable, optional
        Passed to :func:`scenarios.forecast`.

    Returns
    -------
    Backtest
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    from_year = region.year
    if int(to_year) <= from_year:
        raise InputError(f"the second year ({to_year}) must come after the data year "
                         f"({from_year})", column="to_year")
    # Installations planned after the year predicted have not happened by then.
    scenario = dataclasses.replace(
        scenario, start_year=None, horizon=int(to_year) - from_year,
        installations=tuple(i for i in scenario.installations if i.year <= int(to_year)))
    prof = region.profession
    to = _aligned(region, official_to, str(to_year))
    base = baseline if baseline is not None else official_baseline(region, seed=seed)
    demand_to = to["pop_standardisee"].to_numpy(np.float64) if "pop_standardisee" in to \
        else region.demand
    pop_to = to["pop_totale"].to_numpy(np.float64) if "pop_totale" in to else region.population
    fc = forecast(region, scenario, draws=draws, seed=seed, baseline=base,
                  demand_by_year={int(to_year): demand_to},
                  population_by_year={int(to_year): pop_to}, progress=progress)
    pred = fc.communes[fc.communes["year"] == int(to_year)].reset_index(drop=True)
    apl_from = np.asarray(base.apl, dtype=np.float64)
    apl_to = to["apl"].to_numpy(np.float64)
    young = base.official_young
    codes = np.asarray(prof.zoning.codes)
    above = class_index(apl_from, profession=prof) > 0
    under_to = class_index(apl_to, profession=prof) == 0
    fell = above & under_to
    rose = ~above & ~under_to
    table = pd.DataFrame({
        "code_commune": region.codes, "nom": pred["nom"].to_numpy(), "pop_totale": pop_to,
        "apl_from": apl_from,
        "apl_u65_from": young if young is not None else np.full(len(apl_from), np.nan),
        "apl_to": apl_to, "apl_mean": pred["apl_mean"].to_numpy(),
        "apl_median": pred["apl_median"].to_numpy(), "apl_p10": pred["apl_p10"].to_numpy(),
        "apl_p90": pred["apl_p90"].to_numpy(), "p_deficit": pred["p_deficit"].to_numpy(),
        "classe_from": codes[class_index(apl_from, profession=prof)],
        "classe_to": codes[class_index(apl_to, profession=prof)],
        "classe_predicted": pred["classe"].to_numpy(), "fell": fell, "rose": rose,
    })

    ours = compare(table["apl_median"], apl_to, population=pop_to, profession=prof)
    same = compare(apl_from, apl_to, population=pop_to, profession=prof)
    year_row = fc.summary[fc.summary["year"] == int(to_year)].iloc[0]
    candidates = above
    outcome = fell[candidates]
    p = table["p_deficit"].to_numpy()[candidates]
    persistence_p = np.zeros(int(candidates.sum()))
    figures = {
        "share_deficit_observed": ours["share_deficit_observed"],
        "share_deficit_predicted_mean": float(year_row["share_deficit_mean"]),
        "share_deficit_predicted_p10": float(year_row["share_deficit_p10"]),
        "share_deficit_predicted_p90": float(year_row["share_deficit_p90"]),
        "share_deficit_persistence": same["share_deficit_predicted"],
        "spearman_forecast": ours["spearman"], "spearman_persistence": same["spearman"],
        "mae_forecast": ours["mae"], "mae_persistence": same["mae"],
        "class_agreement_forecast": ours["class_agreement"],
        "class_agreement_persistence": same["class_agreement"],
        "communes_at_risk": int(candidates.sum()), "communes_fell": int(fell.sum()),
        "communes_rose": int(rose.sum()),
        "population_fell": float(pop_to[fell].sum()),
        "auc_forecast": auc(p, outcome), "brier_forecast": brier(p, outcome),
        "auc_persistence": auc(persistence_p, outcome),
        "brier_persistence": brier(persistence_p, outcome),
    }
    if young is not None:
        variant = (class_index(young, profession=prof) == 0).astype(np.float64)[candidates]
        figures["auc_u65_variant"] = auc(variant, outcome)
        figures["brier_u65_variant"] = brier(variant, outcome)
        figures["share_deficit_u65_variant"] = float(
            pop_to[class_index(young, profession=prof) == 0].sum() / pop_to.sum())
    summary = pd.DataFrame([
        {"figure": "share_deficit", "forecast": figures["share_deficit_predicted_mean"],
         "forecast_p10": figures["share_deficit_predicted_p10"],
         "forecast_p90": figures["share_deficit_predicted_p90"],
         "persistence": figures["share_deficit_persistence"],
         "u65_variant": figures.get("share_deficit_u65_variant", np.nan),
         "observed": figures["share_deficit_observed"]},
        {"figure": "spearman", "forecast": figures["spearman_forecast"],
         "persistence": figures["spearman_persistence"]},
        {"figure": "mae", "forecast": figures["mae_forecast"],
         "persistence": figures["mae_persistence"]},
        {"figure": "class_agreement", "forecast": figures["class_agreement_forecast"],
         "persistence": figures["class_agreement_persistence"]},
        {"figure": "auc_falls", "forecast": figures["auc_forecast"],
         "persistence": figures["auc_persistence"],
         "u65_variant": figures.get("auc_u65_variant", np.nan)},
        {"figure": "brier_falls", "forecast": figures["brier_forecast"],
         "persistence": figures["brier_persistence"],
         "u65_variant": figures.get("brier_u65_variant", np.nan)},
        {"figure": "communes_fell", "observed": figures["communes_fell"]},
        {"figure": "communes_rose", "observed": figures["communes_rose"]},
    ])
    unforeseen = table[fell & (table["p_deficit"] < 0.5)][
        ["code_commune", "nom", "pop_totale", "apl_from", "apl_u65_from", "apl_median",
         "p_deficit", "apl_to"]].sort_values("p_deficit", ascending=False).reset_index(drop=True)
    return Backtest(communes=table, summary=summary, unforeseen=unforeseen, figures=figures,
                    from_year=from_year, to_year=int(to_year), forecast=fc)
