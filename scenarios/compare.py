"""Compare the forecasts of several scenarios run on the same data (``apl compare``).

Each forecast folder written by ``apl forecast`` holds ``run.json`` (what was run: region,
data year, profession, scenario, years, draws, seed, assumptions), ``forecast_summary.csv``
(population in deficit per year with its 80 % interval) and ``forecast.csv`` (per commune
and year). :func:`load_run` reads one folder; :func:`compare_runs` checks that the runs are
comparable (same region, data year and profession) and lines them up:

- the population in deficit per year and scenario, with intervals, on the years they share;
- the communes whose outcome differs in the last shared year: in deficit (median APL under
  the threshold) in one scenario and not in another, or a probability of deficit that moves
  by at least ``min_probability_change`` between two scenarios.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import InputError
from scenarios.forecast import crossing_year

__all__ = ["Comparison", "Run", "compare_runs", "load_run"]

#: Files a forecast folder must hold.
RUN_FILES = ("run.json", "forecast_summary.csv", "forecast.csv", "communes.csv")


@dataclass
class Run:
    """One forecast folder, as read back by :func:`load_run`.

    Attributes
    ----------
    folder : pathlib.Path
    meta : dict
        ``run.json``.
    summary : pandas.DataFrame
        ``forecast_summary.csv``.
    communes : pandas.DataFrame
        ``forecast.csv`` (per commune and year).
    places : pandas.DataFrame
        ``communes.csv``: ``code_commune``, ``nom``, ``departement``, ``pop_totale``.
    """

    folder: Path
    meta: dict
    summary: pd.DataFrame = field(repr=False)
    communes: pd.DataFrame = field(repr=False)
    places: pd.DataFrame = field(repr=False)

    @property
    def label(self) -> str:
        """The scenario's French title (or its name)."""
        sc = self.meta.get("scenario", {})
        return sc.get("title") or sc.get("name") or self.folder.name


@dataclass
class Comparison:
    """Several forecasts lined up (see :func:`compare_runs`).

    Attributes
    ----------
    runs : list of Run
    years : list of int
        The years every run has (year 0 first).
    summary : pandas.DataFrame
        ``scenario`` (label), ``year``, ``pop_deficit_mean``, ``pop_deficit_p10``,
        ``pop_deficit_p90``, ``share_deficit_mean``, ``communes_deficit``.
    communes : pandas.DataFrame
        The communes whose outcome differs in the last shared year: ``code_commune``,
        ``nom``, ``departement``, ``pop_totale``, ``apl`` (year 0), then per scenario ``k``
        (0-based, in the order given) ``apl_median_k``, ``p_deficit_k``,
        ``annee_deficit_k`` (first year the median is under the threshold), and
        ``p_deficit_range`` (largest minus smallest probability).
    threshold : float
        The deficit threshold the runs used.
    min_probability_change : float
        The change of probability of deficit that put a commune in ``communes``.
    """

    runs: list[Run]
    years: list[int]
    summary: pd.DataFrame
    communes: pd.DataFrame
    threshold: float
    min_probability_change: float = 0.2

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.runs]


def load_run(folder: str | os.PathLike[str]) -> Run:
    """Read a forecast folder written by ``apl forecast``.

    Raises
    ------
    InputError
        Naming the folder and the missing or unreadable file (a folder written by another
        command, or by a version without ``run.json``, says so).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder: give the --out folder of an 'apl forecast' run",
                         path=folder)
    if not (folder / "run.json").is_file():
        raise InputError("no run.json: not the output folder of an 'apl forecast' run (or one "
                         "written by an older version: rerun the forecast)", path=folder)
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read run.json ({exc})", path=folder / "run.json") from None
    if not isinstance(meta, dict) or meta.get("kind") != "forecast":
        kind = meta.get("kind", "?") if isinstance(meta, dict) else "?"
        raise InputError(f"run.json describes an 'apl {kind}' run; compare needs 'apl "
                         "forecast' runs", path=folder / "run.json")
    missing = [f for f in RUN_FILES if not (folder / f).is_file()]
    if missing:
        raise InputError(f"missing {', '.join(missing)}: the forecast's output folder is "
                         "incomplete (rerun the forecast)", path=folder)
    code = {"code_commune": str}
    try:
        summary = pd.read_csv(folder / "forecast_summary.csv")
        communes = pd.read_csv(folder / "forecast.csv", dtype=code)
        places = pd.read_csv(folder / "communes.csv", dtype={**code, "departement": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the forecast tables ({exc})", path=folder) from None
    need = {"forecast_summary.csv": (summary, ("year", "pop_deficit_mean")),
            "forecast.csv": (communes, ("code_commune", "year", "apl_median", "p_deficit")),
            "communes.csv": (places, ("code_commune", "pop_totale", "apl"))}
    for name, (frame, cols) in need.items():
        absent = [c for c in cols if c not in frame.columns]
        if absent:
            raise InputError(f"missing column(s) {', '.join(absent)}", path=folder / name)
    return Run(folder=folder, meta=meta, summary=summary, communes=communes, places=places)


def _same(runs: list[Run], key: str, what: str) -> None:
    values = {r.folder.name: r.meta.get(key) for r in runs}
    if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in values.items())
        raise InputError(f"the runs are not comparable: different {what} ({listed}); compare "
                         "forecasts run on the same data", path=runs[0].folder)


def compare_runs(runs: list[Run], *, min_probability_change: float = 0.2) -> Comparison:
    """Line up forecasts of the same data under different scenarios.

    Parameters
    ----------
    runs : list of Run
        Two or more (:func:`load_run`).
    min_probability_change : float
        A commune's outcome differs when its probability of deficit in the last shared year
        moves by at least this much between two runs (or when its median crosses the
        threshold in one run and not in another).

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        Fewer than two runs; runs on different regions, data years, professions or
        thresholds; no year in common.
    """
    if len(runs) < 2:
        raise InputError("compare needs at least two forecast folders")
    for key, what in (("region", "regions"), ("data_year", "data years"),
                      ("profession", "professions"), ("deficit_threshold", "thresholds")):
        _same(runs, key, what)
    common = sorted(set.intersection(*(set(int(y) for y in r.summary["year"]) for r in runs)))
    if len(common) < 2:
        raise InputError("the runs share no simulated year", path=runs[0].folder)
    last = common[-1]
    threshold = float(runs[0].meta["deficit_threshold"])
    parts = []
    for r in runs:
        s = r.summary[r.summary["year"].isin(common)].copy()
        s.insert(0, "scenario", r.label)
        parts.append(s)
    summary = pd.concat(parts, ignore_index=True)
    cols = [c for c in ("scenario", "year", "pop_deficit_mean", "pop_deficit_p10",
                        "pop_deficit_p90", "share_deficit_mean", "communes_deficit")
            if c in summary]
    summary = summary[cols]

    base = runs[0].places[[c for c in ("code_commune", "nom", "departement", "pop_totale", "apl")
                           if c in runs[0].places]].set_index("code_commune")
    for r in runs[1:]:
        if set(r.places["code_commune"]) != set(base.index):
            raise InputError("the runs are not comparable: different communes",
                             path=r.folder / "communes.csv")
    table = base.copy()
    medians, probs = [], []
    for k, r in enumerate(runs):
        fc = r.communes[r.communes["year"].isin(common)]
        final = fc[fc["year"] == last].set_index("code_commune")
        crossing = crossing_year(fc, threshold)
        table[f"apl_median_{k}"] = final["apl_median"].reindex(table.index)
        table[f"p_deficit_{k}"] = final["p_deficit"].reindex(table.index)
        table[f"annee_deficit_{k}"] = crossing.reindex(table.index).astype("Int64")
        medians.append(table[f"apl_median_{k}"].to_numpy(np.float64))
        probs.append(table[f"p_deficit_{k}"].to_numpy(np.float64))
    med, prob = np.vstack(medians), np.vstack(probs)
    status = med < threshold
    table["p_deficit_range"] = prob.max(axis=0) - prob.min(axis=0)
    differs = (status.any(axis=0) & ~status.all(axis=0)) | (
        table["p_deficit_range"].to_numpy() >= min_probability_change)
    out = table[differs].reset_index()
    out = out.sort_values(["p_deficit_range", "pop_totale"], ascending=[False, False],
                          kind="stable").reset_index(drop=True)
    return Comparison(runs=list(runs), years=common, summary=summary, communes=out,
                      threshold=threshold, min_probability_change=min_probability_change)
