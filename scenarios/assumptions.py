"""A run's assumptions written out in plain French, for the report and ``run.json``.

Every line a board reads about *how* the numbers were made comes from here: the retirement
rule (with its hazard table), replacements by zoning class and their delay, the planned
installations, demand growth, horizon, draws and seed, the data sources and years, and the
model-check figures. The words are built from the validated :class:`~scenarios.Scenario`
and the run's objects, never from a file path.

The result is plain data (lists of dicts of strings) so that it can be stored in
``run.json`` and shown again by ``apl compare`` without the scenario file.
"""

from __future__ import annotations

import math

from engine.apl import Profession
from engine.apl import profession as as_profession
from engine.french import fmt_dec, fmt_int, fmt_pct, fmt_threshold, plural
from scenarios.config import Scenario

__all__ = ["assumptions", "optimizer_assumptions"]

_SOURCE_LABELS = {
    "network": "Réseau routier", "communes": "Communes", "populations": "Populations",
    "practitioners": "Praticiens", "official": "Valeurs officielles de l'APL",
    "zones": "Territoires",
}


def _band(lo: float, hi: float) -> str:
    if math.isinf(hi):
        return f"{lo:g} ans et plus"
    if hi == lo:
        return f"{lo:g} ans"
    return f"{lo:g} à {hi:g} ans"


def _retirement(scenario: Scenario, prof: Profession) -> tuple[str, list[str]]:
    model = scenario.retirement_model
    if model == "age":
        age = f"{scenario.retirement_age:g}"
        return (f"Chaque {prof.label_singular} cesse son activité l'année où il dépasse "
                f"{age} ans (il exerce jusqu'à {age} ans inclus).", [])
    if model == "hazard":
        lines = [f"{_band(lo, hi)} : {fmt_pct(p, 0 if round(p * 100) == p * 100 else 1)}"
                 for lo, hi, p in scenario.hazard]
        return ("Chaque année, un praticien cesse son activité avec une probabilité qui dépend "
                "de son âge au début de l'année :", lines)
    if model == "count":
        return (f"Chaque année, les {fmt_int(scenario.retirements_per_year)} {prof.label} les "
                "plus âgés cessent leur activité.", [])
    return "Aucun départ.", []


def _replacement(scenario: Scenario, prof: Profession) -> tuple[str, list[str]]:
    classes = prof.zoning.classes
    rates = scenario.rate_by_class([c.code for c in classes])
    if not any(rates):
        return "Aucun départ n'est remplacé.", []
    if len(set(rates)) == 1:
        head = f"Un départ est remplacé dans {fmt_pct(rates[0], 0)} des cas."
        lines = []
    else:
        head = ("Un départ est remplacé avec une probabilité qui dépend de la classe de la "
                "commune l'année précédente :")
        lines = [f"{c.label} : {fmt_pct(r, 0)}" for c, r in zip(classes, rates, strict=True)]
    delay = scenario.replacement_delay
    after = ("sans vacance" if delay == 0 else
             f"après {plural(delay, 'an de vacance', 'ans de vacance')}")
    activity = ("avec l'activité du praticien remplacé" if scenario.replacement_activity is None
                else f"avec {fmt_int(scenario.replacement_activity)} consultations par an")
    lines.append(f"Le successeur s'installe au même endroit {after}, à "
                 f"{scenario.replacement_age:g} ans, {activity}.")
    return head, lines


def _installations(scenario: Scenario, names: dict[str, str], prof: Profession) -> list[str]:
    out = []
    for inst in scenario.installations:
        if inst.commune is not None:
            place = names.get(inst.commune, inst.commune)
            where = f"à {place} ({inst.commune})"
        else:
            where = f"au point {fmt_dec(inst.lat, 4)} N, {fmt_dec(inst.lon, 4)} E"
        label = f"{inst.label} : " if inst.label and inst.label != inst.commune else ""
        n = plural(inst.gps, prof.label_singular, prof.label)
        activity = ("" if inst.activity is None
                    else f", {fmt_int(inst.activity)} consultations par an chacun")
        out.append(f"{label}{n} {where} à partir de {inst.year}{activity}.")
    return out


def assumptions(
    scenario: Scenario,
    *,
    data_year: int,
    draws: int,
    seed: int,
    profession: str | Profession = "gp",
    communes: dict[str, str] | None = None,
    sources: dict[str, str] | None = None,
    baseline_kind: str = "official",
    model_check: dict | None = None,
    backtest: dict | None = None,
    quantiles: str = "exact",
) -> list[dict]:
    """The assumptions of a forecast, as rows of a two-column table in French.

    Parameters
    ----------
    scenario : Scenario
    data_year : int
        Year 0 (observed).
    draws, seed : int
        Monte Carlo draws and seed.
    profession : str, path-like or Profession
    communes : dict of str to str, optional
        Commune names by INSEE code (to name installation sites).
    sources : dict of str to str, optional
        :attr:`engine.region.Region.sources` (where each input comes from).
    baseline_kind : {"official", "model"}
        What year 0 is.
    model_check : dict, optional
        :func:`engine.tables.model_check`.
    backtest : dict, optional
        :attr:`scenarios.backtest.Backtest.figures` with ``from_year`` and ``to_year``.
    quantiles : {"exact", "binned"}
        :attr:`scenarios.forecast.Forecast.quantiles` (said when medians are binned).

    Returns
    -------
    list of dict
        Rows ``{"key", "label", "text", "lines"}``: ``text`` is a sentence, ``lines`` (maybe
        empty) the items under it (hazard bands, classes, installations). ``key`` is stable
        (``retirement``, ``replacement``, ``installations``, ``growth``, ``horizon``,
        ``draws``, ``seed``, ``baseline``, ``threshold``, ``sources``, ``model_check``,
        ``backtest``) for tests and ``apl compare``.

    Examples
    --------
    >>> from scenarios import load_scenario
    >>> rows = assumptions(load_scenario("retire-at-65"), data_year=2022, draws=500, seed=0)
    >>> [r["label"] for r in rows][:3]
    ['Scénario', 'Départs', 'Remplacements']
    """
    prof = as_profession(profession)
    years = scenario.years(data_year)
    rows: list[dict] = []

    def add(key: str, label: str, text: str, lines: list[str] | None = None) -> None:
        rows.append({"key": key, "label": label, "text": text, "lines": list(lines or [])})

    add("scenario", "Scénario", f"« {scenario.label} »" + (f" — {scenario.description}"
                                                          if scenario.description else ""))
    add("retirement", "Départs", *_retirement(scenario, prof))
    add("replacement", "Remplacements", *_replacement(scenario, prof))
    inst = _installations(scenario, communes or {}, prof)
    add("installations", "Installations prévues",
        "Aucune." if not inst else f"{plural(len(inst), 'installation')} :", inst)
    g = scenario.growth_per_year
    add("growth", "Évolution de la demande",
        f"Populations de {data_year} constantes." if g == 0 else
        f"{'+' if g > 0 else ''}{fmt_dec(100 * g, 2)} % par an dans chaque commune "
        f"(demande de {years[-1]} : {fmt_dec(100 * ((1 + g) ** (len(years) - 1) - 1), 1)} % "
        f"par rapport à {data_year}).")
    add("horizon", "Horizon",
        f"{plural(len(years) - 1, 'année simulée', 'années simulées')}, de {years[1]} à "
        f"{years[-1]} ; {data_year} est l'année observée.")
    add("draws", "Simulations", f"{fmt_int(draws)} simulations aléatoires (méthode de "
        "Monte-Carlo) ; les intervalles à 80 % vont du 10e au 90e centile des simulations"
        + (". Vu leur nombre, médianes et centiles sont lus sur des classes fixes de 0,005 "
           "point d'APL (écart au calcul exact inférieur à 0,005 sous un APL de 10) ; "
           "moyennes et probabilités restent exactes." if quantiles == "binned" else "."))
    add("seed", "Graine aléatoire", f"{seed} (mêmes données et même graine : mêmes résultats).")
    if baseline_kind == "official":
        base = (f"Valeurs officielles de l'APL {data_year} publiées par la DREES ; l'offre de "
                "chaque commune est recalée sur elles (calibrage), et un écart résiduel, gardé "
                "commune par commune, rend l'année de départ exacte.")
    else:
        base = (f"APL {data_year} recalculé par le moteur à partir de la liste des praticiens "
                "et des temps de trajet (aucune valeur officielle fournie).")
    add("baseline", "Point de départ", base)
    t = fmt_threshold(prof.zoning.deficit_threshold)
    add("threshold", "Seuil de sous-densité",
        f"APL < {t} {prof.unit_short} — source : {prof.zoning.source}." if prof.zoning.source
        else f"APL < {t} {prof.unit_short}.")
    src = [f"{_SOURCE_LABELS.get(k, k)} : {v}" for k, v in (sources or {}).items() if v]
    add("sources", "Données", f"Données de {data_year} :" if src else f"Données de {data_year}.",
        src)
    if model_check:
        lines = [f"Corrélation des rangs (Spearman) : {fmt_dec(model_check['spearman'])}",
                 f"Écart absolu moyen : {fmt_dec(model_check['mae'])} {prof.unit_short}",
                 f"Même classe de zonage : {fmt_pct(model_check['class_agreement'])} des communes"]
        if "fitted_mae" in model_check:
            unlisted = int(model_check.get("unlisted", 0))
            offsets = int(model_check.get("offset_communes", 0))
            lines.append(
                f"Après calibrage : écart moyen {fmt_dec(model_check['fitted_mae'])} ; "
                f"{plural(unlisted, 'praticien non listé', 'praticiens non listés')} "
                f"ajouté{'s' if unlisted > 1 else ''} ; {plural(offsets, 'commune')} "
                f"corrigée{'s' if offsets > 1 else ''} par décalage")
        add("model_check", "Contrôle du modèle",
            f"Recalcul du moteur comparé aux valeurs officielles de {data_year} :", lines)
    if backtest:
        b = backtest
        add("backtest", "Contrôle a posteriori",
            f"Projection {b['from_year']} → {b['to_year']} comparée aux valeurs officielles de "
            f"{b['to_year']} :",
            [f"Population sous le seuil : projetée {fmt_pct(b['share_deficit_predicted_mean'])} "
             f"(intervalle à 80 % : {fmt_pct(b['share_deficit_predicted_p10'])} – "
             f"{fmt_pct(b['share_deficit_predicted_p90'])}), observée "
             f"{fmt_pct(b['share_deficit_observed'])}",
             f"AUC {fmt_dec(b['auc_forecast'])} (persistance {fmt_dec(b['auc_persistence'])}), "
             f"score de Brier {fmt_dec(b['brier_forecast'], 3)} (persistance "
             f"{fmt_dec(b['brier_persistence'], 3)})"])
    return rows


_OBJECTIVE_TEXT = {"population_in_deficit": "habitants sortis de la sous-densité",
                   "deficit_gap": "consultations par an ajoutées là où l'APL est sous le seuil"}


def optimizer_assumptions(region, *, n_new: int, gps_per_site: int, year: int,
                          objective: str = "population_in_deficit", seed: int = 0,
                          activity: float | None = None) -> list[dict]:
    """The assumptions of ``apl optimize``, in the rows format of :func:`assumptions`.

    Parameters
    ----------
    region : engine.region.Region
    n_new, gps_per_site : int
        Sites and practitioners per site.
    year : int
        The planning year.
    objective : {"population_in_deficit", "deficit_gap"}
    seed : int
    activity : float, optional
        Yearly consultations of each new practitioner (default: the profession's default).

    Returns
    -------
    list of dict
    """
    prof = region.profession
    rows: list[dict] = []

    def add(key: str, label: str, text: str, lines: list[str] | None = None) -> None:
        rows.append({"key": key, "label": label, "text": text, "lines": list(lines or [])})

    act = prof.activity.default if activity is None else activity
    add("plan_year", "Année de planification", str(year))
    add("sites", "Sites",
        f"{plural(n_new, 'site')} de {plural(gps_per_site, prof.label_singular, prof.label)}, "
        f"{fmt_int(act)} consultations par an chacun"
        + (" (activité par défaut : hypothèse du moteur, voir la documentation)."
           if activity is None else "."))
    add("objective", "Objectif", f"Maximiser les {_OBJECTIVE_TEXT[objective]} (seuil : APL < "
        f"{fmt_threshold(prof.zoning.deficit_threshold)} {prof.unit_short}).")
    if year > region.year:
        add("retirement", "Départs",
            f"Les {prof.label} qui auront plus de {prof.variant_max_age:g} ans en {year} sont "
            "supposés partis, sans remplacement ; les autres restent.")
    else:
        add("retirement", "Départs", f"Aucun : l'offre de {region.year} telle qu'elle est.")
    src = [f"{_SOURCE_LABELS.get(k, k)} : {v}" for k, v in region.sources.items() if v]
    add("sources", "Données", f"Données de {region.year} :" if src else
        f"Données de {region.year}.", src)
    add("seed", "Graine aléatoire", f"{seed} (âges inconnus tirés au hasard).")
    return rows
