"""The official baseline of Corsica 2022 and its backtest against DREES 2023, figure by figure.

What it prints (and writes to ``benchmarks/results/validation_baseline.json``):

- the calibration: the regularisation chosen by cross-validation with its table, the fit
  (Spearman, MAE, class agreement of the engine's APL with the calibrated supply against
  DREES 2022), unlisted practitioners and their share of supply, communes corrected by an
  offset;
- the choice of the correction on data of 2022 only: from the calibrated state, remove the
  fitted senior supply and compare with DREES's official "65 ans et moins" variant, with a
  factor (the engine's rule) and with an offset everywhere;
- the shipped ``retire-at-65`` scenario's first simulated year against DREES's u65 share;
- the backtest 2022 -> 2023 with the default scenario (every figure of
  :class:`scenarios.backtest.Backtest`) and with ``retire-at-65``.

Nothing here is fitted on 2023. Run: ``python benchmarks/validate_baseline.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from engine.apl import class_index, supply_by_commune
from engine.apl.agreement import compare
from engine.apl.calibration import catchment_operator
from engine.mirror import load_region, region_official
from scenarios import forecast
from scenarios.backtest import backtest
from scenarios.baseline import official_baseline

RESULTS = Path(__file__).resolve().parent / "results" / "validation_baseline.json"
DRAWS = 1000


def _share(apl, pop) -> float:
    return float(pop[class_index(apl) == 0].sum() / pop.sum())


def main() -> dict:
    t0 = time.perf_counter()
    region = load_region("corse")
    pop = region.population
    official = region.official_values()
    a, young = official["apl"].to_numpy(), official["apl_moins_65"].to_numpy()
    base = official_baseline(region)
    t_cal = time.perf_counter() - t0
    fit = base.fit
    a_op = catchment_operator(region.weights, region.demand)
    n = region.n_communes

    young_supply = supply_by_commune(base.slot_commune, base.slot_activity
                                     * (1 - base.slot_senior_probability), n)
    model_young = a_op @ young_supply
    by_factor = base.correction.apply(model_young)
    offset_everywhere = np.maximum(model_young + (a - base.fitted_apl), 0.0)
    out: dict = {
        "calibration": {
            "regularisation": fit.regularisation,
            "cv": fit.cv.round(4).to_dict(orient="records") if fit.cv is not None else None,
            "activity_scale": base.activity_scale,
            "fit_vs_drees_2022": {k: v for k, v in compare(base.fitted_apl, a, population=pop)
                                  .items() if k != "confusion"},
            "model_vs_drees_2022": {k: v for k, v in compare(base.model_apl, a, population=pop)
                                    .items() if k != "confusion"},
            "listed": int((~base.slot_unlisted).sum()), "unlisted": base.n_unlisted,
            "unlisted_supply_share": float(base.slot_activity[base.slot_unlisted].sum()
                                           / base.slot_activity.sum()),
            "offset_communes": int((base.correction.offset != 0).sum()),
            "year0_max_abs_diff": float(np.abs(base.correction.apply(base.fitted_apl) - a).max()),
            "seconds": t_cal,
        },
        "correction_choice_on_u65_2022": {
            "official_share_u65": _share(young, pop),
            "factor": {"mae": float(np.abs(by_factor - young).mean()),
                       "share": _share(by_factor, pop)},
            "offset_everywhere": {"mae": float(np.abs(offset_everywhere - young).mean()),
                                  "share": _share(offset_everywhere, pop)},
        },
    }
    fc = forecast(region, "retire-at-65", draws=DRAWS, seed=0, baseline=base)
    out["retire_at_65"] = {"year0_share": float(fc.summary["share_deficit_mean"].iloc[0]),
                           "first_year_share": float(fc.summary["share_deficit_mean"].iloc[1]),
                           "drees_u65_share": _share(young, pop)}
    to = region_official("corse", 2023)
    for name in ("retirement-hazard", "retire-at-65"):
        bt = backtest(region, to, to_year=2023, scenario=name, draws=DRAWS, seed=0, baseline=base)
        out[f"backtest_{name}"] = {**bt.figures,
                                   "unforeseen": bt.unforeseen.round(4).to_dict(orient="records")}
    return out


def _print(out: dict) -> None:
    cal = out["calibration"]
    print(f"calibration: lambda={cal['regularisation']:g}, {cal['listed']} listed + "
          f"{cal['unlisted']} unlisted ({100 * cal['unlisted_supply_share']:.1f} % of supply), "
          f"{cal['offset_communes']} offset communes, year 0 max diff {cal['year0_max_abs_diff']:.2e}")
    for label, key in (("model (roster)", "model_vs_drees_2022"), ("calibrated", "fit_vs_drees_2022")):
        f = cal[key]
        print(f"  {label:16s} Spearman {f['spearman']:.3f}  MAE {f['mae']:.3f}  "
              f"classes {100 * f['class_agreement']:.1f} %  share<2.5 "
              f"{100 * f['share_deficit_predicted']:.1f} % (DREES {100 * f['share_deficit_observed']:.1f} %)")
    ch = out["correction_choice_on_u65_2022"]
    print(f"u65 2022 (official share {100 * ch['official_share_u65']:.1f} %): factor MAE "
          f"{ch['factor']['mae']:.3f} share {100 * ch['factor']['share']:.1f} %; offset MAE "
          f"{ch['offset_everywhere']['mae']:.3f} share {100 * ch['offset_everywhere']['share']:.1f} %")
    r = out["retire_at_65"]
    print(f"retire-at-65: 2022 {100 * r['year0_share']:.1f} %, 2023 {100 * r['first_year_share']:.1f} % "
          f"(DREES u65 {100 * r['drees_u65_share']:.1f} %)")
    for name in ("retirement-hazard", "retire-at-65"):
        b = out[f"backtest_{name}"]
        print(f"backtest {name}: share 2023 predicted {100 * b['share_deficit_predicted_mean']:.1f} % "
              f"[{100 * b['share_deficit_predicted_p10']:.1f}-{100 * b['share_deficit_predicted_p90']:.1f}] "
              f"observed {100 * b['share_deficit_observed']:.1f} %, persistence "
              f"{100 * b['share_deficit_persistence']:.1f} %; Spearman {b['spearman_forecast']:.3f} "
              f"vs {b['spearman_persistence']:.3f}; MAE {b['mae_forecast']:.3f} vs "
              f"{b['mae_persistence']:.3f}; classes {100 * b['class_agreement_forecast']:.1f} vs "
              f"{100 * b['class_agreement_persistence']:.1f} %; falls: AUC {b['auc_forecast']:.3f} "
              f"(persistence {b['auc_persistence']:.3f}, u65 {b.get('auc_u65_variant', np.nan):.3f}), "
              f"Brier {b['brier_forecast']:.4f} ({b['brier_persistence']:.4f}, "
              f"{b.get('brier_u65_variant', np.nan):.4f}); {b['communes_fell']} fell, "
              f"{len(b['unforeseen'])} unforeseen")


if __name__ == "__main__":
    result = main()
    _print(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"written {RESULTS}")
    sys.exit(0)
