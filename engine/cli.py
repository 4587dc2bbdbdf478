"""The ``apl`` command line: the planner's jobs in one command each.

Exit codes: 0 success, 1 data error (one line naming the file, row and column), 2 usage
error. ``--debug`` shows the traceback.
"""

from __future__ import annotations

import os
import signal
import sys


def _quiet_interrupt(signum, frame):  # pragma: no cover - timing dependent
    """Ctrl-C outside a command (while importing, or once it is done): no traceback."""
    print("apl: interrompu", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)


# First thing in the ``apl`` program, so that an interrupt while the rest imports prints one
# line, not a traceback (a library import of this module leaves the handler alone).
if os.path.basename(sys.argv[0] if sys.argv else "") == "apl":
    signal.signal(signal.SIGINT, _quiet_interrupt)

import argparse  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from engine.errors import InputError  # noqa: E402

EPILOG_COMPUTE = ("examples:\n  apl compute --out out/corse\n"
                  "  apl compute --region corse --practitioners my_gps.csv --out out/mine\n"
                  "  apl compute --communes my.gpkg --practitioners gps.csv --network roads.osm.pbf\n"
                  "  apl compute --profession my_profession.toml --out out/other\n"
                  "  apl compute --network data/france-drive.npz --communes france.gpkg "
                  "--practitioners gps.csv --no-isochrones")
EPILOG_FORECAST = "example:\n  apl forecast --scenario scenarios/retirement-hazard.toml --draws 500 --out out/forecast"
EPILOG_OPTIMIZE = "example:\n  apl optimize --new 10 --year 2027 --out out/optimize"
EPILOG_BACKTEST = ("example:\n  apl backtest --from 2022 --to 2023 --out out/backtest\n"
                   "  apl backtest --from 2022 --to 2023 --scenario retire-at-65 --draws 1000")
EPILOG_COMPARE = ("example:\n  apl forecast --scenario retirement-hazard --out out/hazard\n"
                  "  apl forecast --scenario new-msp --out out/msp\n"
                  "  apl compare out/hazard out/msp --out out/compare --pdf")
EPILOG_ISO = "example:\n  apl isochrones --minutes 10,15,20 --out out/iso"
EPILOG_DATA = "examples:\n  apl data list\n  apl data check\n  apl data assemble --region corse\n  apl data export --region corse --out my_corse\n  apl data fetch \"Bastia, France\" --out data/osm/bastia.graphml\n  apl data network france-latest.osm.pbf --out data/france-drive.npz"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as argparse does, with a hint
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _common(p: argparse.ArgumentParser, *, out_default: str, year_is_data: bool = True) -> None:
    g = p.add_argument_group("inputs (default: the embedded region 'corse', assembled from the "
                             "data mirror; each file given replaces that part of it)")
    g.add_argument("--region", default="corse", help="embedded region name (default: corse)")
    g.add_argument("--network", help="road network file (.graphml[.gz], .osm[.gz|.bz2], .osm.pbf, .npz)")
    g.add_argument("--communes", help="communes: GeoPackage, CSV or Excel (see scenarios/examples/)")
    g.add_argument("--practitioners", help="practitioners: CSV or Excel (see scenarios/examples/)")
    g.add_argument("--official", help="official values per commune (code_commune, apl, "
                                      "apl_moins_65) for your own communes")
    g.add_argument("--zones", metavar="FILE",
                   help="territories to aggregate communes into: code_commune -> zone (and "
                        "zone_nom), e.g. EPCI, territoires de vie-santé, CPTS")
    g.add_argument("--profession", default="gp", metavar="NAME_OR_FILE",
                   help="whose APL: a shipped profession (gp: general practitioners, the "
                        "default) or a TOML definition file (see docs/architecture.md)")
    # For optimize, --year is the planning year the issue and planners ask for; the data
    # year is --data-year everywhere (and --year elsewhere, where no other year exists).
    flags = ("--data-year", "--year") if year_is_data else ("--data-year",)
    g.add_argument(*flags, dest="data_year", type=int, default=None, metavar="YEAR",
                   help="data year (DREES populations: 2022 or 2023; default 2022)")
    g.add_argument("--baseline", choices=["official", "model"], default=None,
                   help="year 0: 'official' (the official APL, supply calibrated on it; the "
                        "default where official values exist) or 'model' (the engine's own "
                        "recomputation with the roster)")
    c = p.add_argument_group("computation")
    c.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="route on a Dask cluster: tcp://host:8786, or local[:N] for N local worker "
                        "processes (needs apl-engine[dask]; see docs/scaling.md)")
    o = p.add_argument_group("output")
    o.add_argument("--out", default=out_default, help=f"output folder (default: {out_default})")
    o.add_argument("--pdf", action="store_true",
                   help="also print the report to report.pdf (A4; needs headless Chromium or "
                        "WeasyPrint)")
    o.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    o.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    o.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``apl`` command."""
    parser = _Parser(prog="apl", description="Accessibility to general practitioners (APL, DREES) "
                     "on OpenStreetMap roads: compute, forecast retirements, place new GPs.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="Run 'apl COMMAND --help' for each command's options and an example.")
    from engine import __version__

    parser.add_argument("--version", action="version", version=f"apl-engine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("compute", help="APL per commune (all GPs and GPs aged 65 or less), classes, zoning",
                       epilog=EPILOG_COMPUTE, formatter_class=fmt)
    _common(p, out_default="out/compute")
    p.add_argument("--isochrones", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the 10/15/20-minute isochrones around GPs (isochrones.gpkg, map); "
                        "--no-isochrones skips them, for national runs where drawing the polygons "
                        "takes longer than the APL (default: draw)")

    p = sub.add_parser("forecast", help="year-by-year forecast of deficits under a scenario (the main job)",
                       epilog=EPILOG_FORECAST, formatter_class=fmt)
    _common(p, out_default="out/forecast")
    p.add_argument("--scenario", default="retirement-hazard",
                   help="scenario TOML file or shipped name: retire-at-65, retirement-hazard "
                        "(default), new-msp")
    p.add_argument("--draws", type=int, default=500, help="Monte Carlo draws (default: 500)")
    p.add_argument("--new", type=int, default=10, help="GPs the optimizer proposes in the report (default: 10; 0: none)")
    p.add_argument("--backtest", action=argparse.BooleanOptionalAction, default=True,
                   help="add to the report how the same scenario did on the last pair of "
                        "official years of the embedded region (default: yes; not with your "
                        "own network, communes, roster or official values)")

    p = sub.add_parser("optimize", help="where to install N new GPs", epilog=EPILOG_OPTIMIZE,
                       formatter_class=fmt)
    _common(p, out_default="out/optimize", year_is_data=False)
    p.add_argument("--new", type=int, required=True, help="number of sites to propose")
    p.add_argument("--gps-per-site", type=int, default=1,
                   help="practitioners per site (3-5 for an MSP; default 1)")
    p.add_argument("--objective", choices=["population_in_deficit", "deficit_gap"],
                   default="population_in_deficit", help="what each step maximises")
    p.add_argument("--year", "--plan-year", dest="plan_year", type=int, default=None, metavar="YEAR",
                   help="planning year: practitioners over the variant age (65 for GPs) by then "
                        "are assumed gone (default: data year)")

    p = sub.add_parser("backtest", help="how a forecast from one year's official values did on "
                       "the next year's", epilog=EPILOG_BACKTEST, formatter_class=fmt)
    _common(p, out_default="out/backtest", year_is_data=False)
    p.add_argument("--from", dest="from_year", type=int, default=2022, metavar="YEAR",
                   help="the year forecast from (its official values are the baseline; "
                        "default 2022)")
    p.add_argument("--to", dest="to_year", type=int, default=2023, metavar="YEAR",
                   help="the year predicted and compared with its official values (default 2023)")
    p.add_argument("--scenario", default="retirement-hazard",
                   help="what happens in between (default: retirement-hazard)")
    p.add_argument("--draws", type=int, default=500, help="Monte Carlo draws (default: 500)")

    p = sub.add_parser("compare", help="compare the forecasts of several scenarios (folders "
                       "written by apl forecast)", epilog=EPILOG_COMPARE, formatter_class=fmt)
    p.add_argument("folders", nargs="+", metavar="FOLDER",
                   help="two or more --out folders of 'apl forecast' runs on the same data")
    p.add_argument("--out", default="out/compare", help="output folder (default: out/compare)")
    p.add_argument("--pdf", action="store_true", help="also print the report to report.pdf")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.add_argument("--debug", action="store_true", help="show tracebacks")

    p = sub.add_parser("isochrones", help="travel-time isochrones around practitioners",
                       epilog=EPILOG_ISO, formatter_class=fmt)
    _common(p, out_default="out/isochrones")
    p.add_argument("--minutes", default="10,15,20", help="comma-separated bands (default: 10,15,20)")

    p = sub.add_parser("data", help="list, check and assemble regions; fetch networks",
                       epilog=EPILOG_DATA, formatter_class=fmt)
    p.add_argument("action", choices=["list", "check", "assemble", "export", "fetch", "network"])
    p.add_argument("place", nargs="?", help="with fetch: a place name for osmnx; with network: a "
                   "network file (.osm.pbf is streamed and contracted) to save as a fast .npz cache")
    p.add_argument("--region", default="corse")
    p.add_argument("--year", type=int, default=2022)
    p.add_argument("--profession", default="gp", metavar="NAME_OR_FILE")
    p.add_argument("--out", default=None, help="with fetch: the GraphML file to write; with "
                   "export: the folder to write the region's input files into")
    p.add_argument("--seed", type=int, default=0, help="with export: seed of the imputed ages")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--debug", action="store_true")
    return parser


class _Progress:
    """A tqdm bar on a terminal, nothing otherwise or with --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.quiet = quiet
        self._bar = None

    def say(self, message: str) -> None:
        if not self.quiet:
            if self._bar is not None:
                self._bar.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr)

    def announce_compilation(self) -> None:
        """Say once, when numba starts compiling (the first run on a machine, or after an
        upgrade), that the wait is a one-off; runs that load the kernels from numba's
        cache say nothing."""
        if self.quiet:
            return
        from numba.core import event

        progress = self

        class _Announce(event.Listener):
            said = False

            def on_start(self, ev) -> None:
                if not self.said:
                    self.said = True
                    progress.say("compilation des calculs (premier lancement uniquement)…")

            def on_end(self, ev) -> None:
                pass

        event.register("numba:compile", _Announce())

    def __call__(self, desc: str):
        def update(done: int, total: int) -> None:
            if not self.enabled:
                return
            if self._bar is None or self._bar.desc != desc:
                from tqdm import tqdm

                if self._bar is not None:
                    self._bar.close()
                self._bar = tqdm(total=total, desc=desc, file=sys.stderr, leave=False)
            self._bar.n = done
            self._bar.refresh()
            if done >= total:
                self._bar.close()
                self._bar = None
        return update


def _client(args, progress: _Progress):
    """The Dask client of ``--scheduler``, connected once per command; main closes it."""
    address = getattr(args, "scheduler", None)
    if not address:
        return None
    if getattr(args, "client", None) is None:
        from engine.routing.cluster import connect

        progress.say(f"connexion au planificateur Dask {address} ...")
        try:
            args.client = connect(address)
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise _Usage(f"--scheduler: {exc}") from None
    return args.client


def _region(args, progress: _Progress):
    from engine.inputs import build_region

    client = _client(args, progress)
    year = args.data_year or 2022
    files = {k: getattr(args, k, None) for k in ("network", "communes", "practitioners",
                                                 "official", "zones")}
    own = all(files[k] for k in ("network", "communes", "practitioners"))
    progress.announce_compilation()
    if any(files[k] for k in ("network", "communes", "practitioners", "official")):
        progress.say("lecture de vos fichiers ...")
    else:
        progress.say(f"chargement de la région « {args.region} » ...")
    region = build_region(region=None if own else args.region, year=year,
                          profession=args.profession, client=client,
                          progress=progress("région"), **files)
    if region.times is None:
        step = progress("temps de trajet entre communes")
        step(0, 1)
        region.commune_times()
        step(1, 1)
    return region


class _Usage(Exception):
    pass


def _interrupted(exc: BaseException) -> bool:
    """Whether an exception was caused by Ctrl-C (numba re-raises it as a SystemError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


_SCHEDULER = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?[^\s:/]+:[0-9]{1,5}")


def _check_options(args) -> None:
    """Option values that cannot be right, refused before any work (exit 2)."""
    from engine._validate import DATA_YEARS

    # --out is checked by engine.outputs.prepare_output (see main).
    for name in ("network", "communes", "practitioners", "official", "zones", "profession",
                 "scenario", "region"):
        value = getattr(args, name, None)
        if value is not None and not str(value).strip():
            what = {"region": "a region name", "profession": "a profession name or file",
                    "scenario": "a scenario name or file"}.get(name, "a file")
            raise _Usage(f"--{name} is empty: give {what}")
    if any(not str(f).strip() for f in getattr(args, "folders", None) or ()):
        raise _Usage("a FOLDER is empty: give the --out folders of 'apl forecast' runs")
    if getattr(args, "seed", 0) < 0:
        raise _Usage(f"--seed must be 0 or more, got {args.seed}")
    address = getattr(args, "scheduler", None)
    if address is not None:
        n = address.partition(":")[2] if address.startswith("local:") else None
        if not (address == "local" or (n is not None and n.isdigit() and int(n) >= 1)
                or (_SCHEDULER.fullmatch(address) and not address.startswith("local"))):
            raise _Usage(f"--scheduler {address!r}: expected local, local:N (N >= 1 workers) or "
                         "a scheduler address such as tcp://host:8786")
    flags = {"data_year": "--data-year", "from_year": "--from", "to_year": "--to",
             "plan_year": "--year"}
    if args.command == "data":
        flags = {"year": "--year"}
    for dest, flag in flags.items():
        year = getattr(args, dest, None)
        if year is not None and not DATA_YEARS[0] <= year <= DATA_YEARS[1]:
            raise _Usage(f"{flag} {year}: expected a year from {DATA_YEARS[0]} to {DATA_YEARS[1]}")
    data_year = getattr(args, "from_year" if args.command == "backtest" else
                        "year" if args.command == "data" else "data_year", None)
    if data_year is not None and getattr(args, "profession", None):
        from engine.apl import profession as as_profession

        prof = as_profession(args.profession)
        if prof.demand_basis == "standardised":
            try:
                prof.age_weights_for(data_year)
            except InputError as exc:
                flag = {"backtest": "--from", "data": "--year"}.get(args.command, "--data-year")
                raise _Usage(f"{flag} {data_year}: {exc.message}") from None


def _check_pdf(args) -> None:
    """Fail before any computation when --pdf cannot be honoured."""
    if getattr(args, "pdf", False):
        from engine.pdf import PdfUnavailable, pdf_engine

        try:
            pdf_engine()
        except PdfUnavailable as exc:
            raise _Failed(str(exc)) from None


def _print_pdf(args, tmp: Path, progress) -> None:
    if getattr(args, "pdf", False):
        from engine.pdf import print_pdf

        progress.say("impression du rapport en PDF ...")
        print_pdf(tmp / "report.html", tmp / "report.pdf")


def _run_facts(args, region, *, kind: str, base, scenario=None, years=None,
               assumptions=None) -> dict:
    """``run.json``: what was run, for the record and for ``apl compare``."""
    from engine import __version__

    prof = region.profession
    facts = {"kind": kind, "engine": __version__, "region": region.name,
             "data_year": int(region.year), "profession": prof.name,
             "deficit_threshold": float(prof.zoning.deficit_threshold),
             "baseline": base.kind, "seed": int(args.seed), "sources": dict(region.sources)}
    if scenario is not None:
        facts["scenario"] = {"name": scenario.name, "title": scenario.label,
                             "description": scenario.description}
        facts["years"] = [int(y) for y in years]
        facts["draws"] = int(args.draws)
    if assumptions is not None:
        facts["assumptions"] = assumptions
    return facts


def _communes_sheet(table, fc=None):
    """The commune table for the spreadsheet, the forecast's columns named by their year."""
    if fc is None:
        return table
    last = fc.years[-1]
    return table.rename(columns={
        "apl_forecast": f"apl_median_{last}", "apl_forecast_p10": f"apl_p10_{last}",
        "apl_forecast_p90": f"apl_p90_{last}", "p_deficit_forecast": f"p_deficit_{last}"})


def _names(region) -> dict:
    if "nom" not in region.communes:
        return {}
    return dict(zip(region.codes, region.communes["nom"], strict=True))


def _subtitle(region, base) -> str:
    """The maps' second line: where and whose values (the title carries the year)."""
    whose = "valeurs officielles DREES" if base.kind == "official" else "APL recalculé"
    return f"{region.name.title()} · {whose}"


def cmd_compute(args, progress) -> dict:
    from engine import maps, outputs, report, tables
    from scenarios.baseline import baseline

    _check_pdf(args)
    region = _region(args, progress)
    prof = region.profession
    base = baseline(region, args.baseline)
    table = tables.commune_table(region, baseline=base, polygons=region.polygons)
    summary = tables.zoning_table(table, region)
    check = tables.model_check(region, base)
    zones = tables.zones_table(region, base)
    points = tables.practitioner_points(region)
    raster = tables.access_surface(region)
    iso = None
    if args.isochrones:
        progress.say("isochrones autour des praticiens (10, 15, 20 min) ...")
        iso = tables.practitioner_isochrones(region, (10, 15, 20))

    def write(tmp: Path) -> None:
        outputs.write_communes(table, tmp)
        outputs.write_table(summary, tmp / "zoning_summary.csv")
        sheets = {"Communes": table, "Par département": summary}
        if iso is not None:
            outputs.write_isochrones(iso, tmp / "isochrones.gpkg")
        outputs.write_geotiff(tmp / "travel_time_to_practitioner.tif", *raster)
        maps.map_apl_png(table, tmp / "map_apl.png", profession=prof, year=region.year,
                         subtitle=_subtitle(region, base))
        map_files = {"apl": tmp / "map_apl.png"}
        if zones is not None:
            outputs.write_table(zones, tmp / "zones.csv")
            sheets["Territoires"] = zones
            maps.map_zones_png(table, zones, region.zones, tmp / "map_zones.png", profession=prof,
                               year=region.year, subtitle=_subtitle(region, base))
            map_files["zones"] = tmp / "map_zones.png"
        outputs.write_xlsx(sheets, tmp / "communes.xlsx", profession=prof)
        maps.map_html(table, tmp / "map.html", practitioners_points=points, isochrones=iso,
                      profession=prof, year=region.year, zones=zones, zone_of=region.zones)
        outputs.write_json(_run_facts(args, region, kind="compute", base=base), tmp / "run.json")
        report.write_report(tmp / "report.html", region_name=region.name.title(), communes=table,
                            zoning_summary=summary, maps=map_files, zones=zones,
                            meta={"seed": args.seed}, profession=prof, baseline=base,
                            model_check=check, year=region.year)
        _print_pdf(args, tmp, progress)

    outputs.write_atomic(args.out, [write])
    return tables.headline(summary, region)


def _latest_backtest(args, region, scenario, progress):
    """The backtest on the last pair of official years the mirror holds (``None`` when the
    region is the planner's own or has fewer than two years)."""
    from engine.mirror import load_region, official_years, region_official
    from scenarios.backtest import backtest

    own = any(getattr(args, k, None) for k in ("network", "communes", "practitioners", "official"))
    if own or not getattr(args, "backtest", True):
        return None
    years = official_years(args.region, profession=region.profession)
    if len(years) < 2:
        return None
    start, end = years[-2], years[-1]
    progress.say(f"contrôle a posteriori {start} → {end} ...")
    start_region = region if region.year == start else load_region(
        args.region, year=start, profession=region.profession, client=region.client)
    official_to = region_official(args.region, end, profession=region.profession)
    return backtest(start_region, official_to, to_year=end, scenario=scenario,
                    draws=min(int(args.draws), 500), seed=args.seed,
                    progress=progress("contrôle a posteriori"))


def cmd_forecast(args, progress) -> dict:
    from engine import maps, outputs, report, tables
    from scenarios import forecast, load_scenario, optimize_installations
    from scenarios.assumptions import assumptions
    from scenarios.baseline import baseline
    from scenarios.forecast import ForecastTooLarge

    if args.draws < 1:
        raise _Usage("--draws must be at least 1")
    if args.new < 0:
        raise _Usage("--new must be 0 (no proposals) or more")
    _check_pdf(args)
    scenario = load_scenario(args.scenario)
    region = _region(args, progress)
    prof = region.profession
    years = scenario.years(region.year)
    base = baseline(region, args.baseline)
    progress.say(f"projection « {scenario.label} », {args.draws} simulations ...")
    try:
        fc = forecast(region, scenario, draws=args.draws, seed=args.seed, baseline=base,
                      progress=progress("simulations"))
    except ForecastTooLarge as exc:
        raise _Usage(f"--draws: {exc}") from None
    table = tables.with_forecast(tables.commune_table(region, baseline=base,
                                                      polygons=region.polygons), fc)
    summary = tables.zoning_table(table, region)
    check = tables.model_check(region, base)
    zones = tables.zones_table(region, base)
    zones_fc = tables.zones_forecast_table(fc)
    newly = fc.newly_in_deficit()
    risk = tables.risk_table(fc, table)
    watch = tables.watch_list(risk)
    installs = None
    if args.new:
        # Start from the scenario's own expected supply in its last year.
        installs = optimize_installations(region, args.new, supply=fc.supply_in(years[-1]),
                                          year=years[-1], baseline=base,
                                          progress=progress("optimisation"))
    bt = _latest_backtest(args, region, scenario, progress)
    rows = assumptions(scenario, data_year=region.year, draws=args.draws, seed=args.seed,
                       profession=prof, communes=_names(region), sources=region.sources,
                       baseline_kind=base.kind, model_check=check,
                       backtest=None if bt is None else {**bt.figures, "from_year": bt.from_year,
                                                         "to_year": bt.to_year},
                       quantiles=fc.quantiles)
    points = tables.practitioner_points(region)
    optimizer = {"year": years[-1], "objective": "population_in_deficit", "gps_per_site": 1,
                 "basis": "scenario"}

    def write(tmp: Path) -> None:
        outputs.write_communes(table, tmp)
        outputs.write_table(tables.forecast_table(fc), tmp / "forecast.csv")
        outputs.write_table(fc.summary, tmp / "forecast_summary.csv")
        outputs.write_table(newly, tmp / "new_deficit.csv")
        outputs.write_table(risk, tmp / "risk.csv")
        outputs.write_table(watch, tmp / "watch_list.csv")
        outputs.write_table(fc.departements, tmp / "departements_forecast.csv")
        sheets = {"Par année": fc.summary, "Communes à risque": risk, "À surveiller": watch,
                  "Basculent": newly,
                  "Par département": fc.departements.rename(columns={
                      "zone": "departement", "zone_nom": "nom"})}
        if installs is not None:
            outputs.write_table(installs, tmp / "installations.csv")
            sheets["Installations proposées"] = installs
        maps.map_apl_png(table, tmp / "map_apl.png", profession=prof, year=region.year,
                         subtitle=_subtitle(region, base))
        maps.map_forecast_png(table, fc.communes, tmp / "map_forecast.png", profession=prof,
                              scenario=scenario.label, draws=args.draws)
        map_files = {"apl": tmp / "map_apl.png", "forecast": tmp / "map_forecast.png"}
        if installs is not None:
            maps.map_installations_png(table, installs, tmp / "map_proposals.png",
                                       column="classe_forecast", year=years[-1],
                                       scenario=scenario.label, profession=prof,
                                       subtitle="Sur le zonage projeté (médiane des simulations) "
                                                f"en {years[-1]}")
            map_files["proposals"] = tmp / "map_proposals.png"
        if zones is not None:
            outputs.write_table(zones, tmp / "zones.csv")
            outputs.write_table(zones_fc, tmp / "zones_forecast.csv")
            sheets["Par territoire"] = zones_fc
            maps.map_zones_png(table, zones, region.zones, tmp / "map_zones.png", profession=prof,
                               year=region.year, subtitle=_subtitle(region, base))
            map_files["zones"] = tmp / "map_zones.png"
        if bt is not None:
            outputs.write_table(bt.summary, tmp / "backtest_summary.csv")
        year0 = (f"{years[0]} est l'année observée (valeurs officielles)" if base.kind ==
                 "official" else f"{years[0]} est l'année observée")
        outputs.write_xlsx({"Communes": _communes_sheet(table, fc)}, tmp / "communes.xlsx",
                           profession=prof)
        outputs.write_xlsx(sheets, tmp / "forecast.xlsx", profession=prof,
                           notes={"Par année": f"Scénario « {scenario.label} » ; {year0}.",
                                  "Communes à risque": "Classées par probabilité d'être "
                                  f"sous-dense en {years[-1]} ; APL médian et intervalle à 80 % "
                                  "par année."})
        maps.map_html(table, tmp / "map.html", practitioners_points=points, profession=prof,
                      year=region.year, forecast_year=years[-1], scenario=scenario.label,
                      draws=args.draws, zones=zones, zone_of=region.zones,
                      installations=tables.installation_points(region, scenario=scenario,
                                                               proposals=installs))
        outputs.write_json(_run_facts(args, region, kind="forecast", base=base,
                                      scenario=scenario, years=years, assumptions=rows),
                           tmp / "run.json")
        report.write_report(tmp / "report.html", region_name=region.name.title(), communes=table,
                            zoning_summary=summary, forecast_summary=fc.summary,
                            newly_in_deficit=newly, installations=installs,
                            scenario_name=scenario.label, profession=prof, baseline=base,
                            model_check=check, year=region.year, maps=map_files,
                            zones=zones, zones_forecast=zones_fc, assumptions=rows, risk=risk,
                            watch=watch, departements_forecast=fc.departements,
                            optimizer=optimizer, backtest=bt,
                            meta={"seed": args.seed, "draws": args.draws})
        _print_pdf(args, tmp, progress)

    outputs.write_atomic(args.out, [write])
    first, last_row = fc.summary.iloc[1], fc.summary.iloc[-1]
    return {"scenario": scenario.name, "years": f"{years[0]}-{years[-1]}",
            "share_deficit_year0": float(fc.summary.iloc[0]["share_deficit_mean"]),
            "share_deficit_first_simulated_year": float(first["share_deficit_mean"]),
            "share_deficit_last_year": float(last_row["share_deficit_mean"]),
            "communes_newly_in_deficit": len(newly)}


def cmd_backtest(args, progress) -> dict:
    from engine import outputs, report
    from engine.mirror import region_official
    from engine.readers import read_official
    from scenarios import load_scenario
    from scenarios.backtest import backtest

    if args.draws < 1:
        raise _Usage("--draws must be at least 1")
    if args.to_year <= args.from_year:
        raise _Usage(f"--to ({args.to_year}) must come after --from ({args.from_year})")
    if args.baseline == "model":
        raise _Usage("a backtest starts from the official values: --baseline model does not apply")
    _check_pdf(args)
    scenario = load_scenario(args.scenario)
    args.data_year = args.from_year
    official_file = args.official
    region = _region(args, progress)
    if official_file:
        official_to = read_official(official_file, year=args.to_year)
    else:
        official_to = region_official(args.region, args.to_year, profession=region.profession)
    bt = backtest(region, official_to, to_year=args.to_year, scenario=scenario, draws=args.draws,
                  seed=args.seed, progress=progress("simulations"))

    def write(tmp: Path) -> None:
        outputs.write_table(bt.communes, tmp / "backtest.csv")
        outputs.write_table(bt.summary, tmp / "backtest_summary.csv")
        outputs.write_xlsx({"Communes": bt.communes, "Indicateurs": bt.summary},
                           tmp / "backtest.xlsx", profession=region.profession)
        report.write_backtest_report(tmp / "report.html", bt, region_name=region.name.title(),
                                     scenario_name=scenario.label, profession=region.profession,
                                     meta={"seed": args.seed, "draws": args.draws})
        _print_pdf(args, tmp, progress)

    outputs.write_atomic(args.out, [write])
    f = bt.figures
    return {"from": args.from_year, "to": args.to_year,
            "share_deficit_predicted": f["share_deficit_predicted_mean"],
            "share_deficit_observed": f["share_deficit_observed"],
            "share_deficit_persistence": f["share_deficit_persistence"],
            "auc": f["auc_forecast"]}


def cmd_optimize(args, progress) -> dict:
    from engine import maps, outputs, report, tables
    from scenarios import optimize_installations
    from scenarios.assumptions import optimizer_assumptions
    from scenarios.baseline import baseline

    if args.new < 1:
        raise _Usage("--new must be at least 1")
    if not 1 <= args.gps_per_site <= 1000:  # the bound of a scenario's installation.gps
        raise _Usage(f"--gps-per-site must be from 1 to 1000, got {args.gps_per_site}")
    _check_pdf(args)
    region = _region(args, progress)
    prof = region.profession
    base = baseline(region, args.baseline)
    year = region.year if args.plan_year is None else int(args.plan_year)
    progress.say(f"optimisation : {args.new} sites pour {year} ...")
    result = optimize_installations(region, args.new, year=year, objective=args.objective,
                                    baseline=base, gps_per_site=args.gps_per_site,
                                    seed=args.seed, progress=progress("optimisation"))
    table = tables.commune_table(region, baseline=base, polygons=region.polygons)
    summary = tables.zoning_table(table, region)
    check = tables.model_check(region, base)
    points = tables.practitioner_points(region)
    optimizer = {"year": year, "objective": args.objective, "gps_per_site": args.gps_per_site,
                 "basis": "plan", "retirement_age": prof.variant_max_age}
    assumptions = optimizer_assumptions(region, n_new=args.new, gps_per_site=args.gps_per_site,
                                        year=year, objective=args.objective, seed=args.seed)

    def write(tmp: Path) -> None:
        outputs.write_table(result, tmp / "installations.csv")
        outputs.write_communes(table, tmp)
        outputs.write_xlsx({"Installations proposées": result}, tmp / "installations.xlsx",
                           profession=prof)
        outputs.write_xlsx({"Communes": table}, tmp / "communes.xlsx", profession=prof)
        maps.map_apl_png(table, tmp / "map_apl.png", profession=prof, year=region.year,
                         subtitle=_subtitle(region, base))
        maps.map_installations_png(table, result, tmp / "map_proposals.png", year=year,
                                   profession=prof,
                                   subtitle=f"Sur le zonage {region.year} (valeurs de départ)")
        map_files = {"apl": tmp / "map_apl.png", "proposals": tmp / "map_proposals.png"}
        maps.map_html(table, tmp / "map.html", practitioners_points=points, profession=prof,
                      year=region.year,
                      installations=tables.installation_points(region, proposals=result))
        outputs.write_json({**_run_facts(args, region, kind="optimize", base=base),
                            "optimizer": optimizer, "assumptions": assumptions},
                           tmp / "run.json")
        report.write_report(tmp / "report.html", region_name=region.name.title(), communes=table,
                            zoning_summary=summary, installations=result, optimizer=optimizer,
                            maps=map_files, profession=prof, baseline=base, model_check=check,
                            year=region.year, assumptions=assumptions,
                            title=f"Où installer des {prof.label} — {region.name.title()}",
                            meta={"seed": args.seed})
        _print_pdf(args, tmp, progress)

    outputs.write_atomic(args.out, [write])
    key = "population_lifted" if "population_lifted" in result else "population_covered"
    return {"sites": len(result), key: float(result[key].sum())}


def cmd_compare(args, progress) -> dict:
    from engine import outputs, report
    from scenarios.compare import compare_runs, load_run

    _check_pdf(args)
    runs = [load_run(folder) for folder in args.folders]
    comparison = compare_runs(runs)
    region_name = str(runs[0].meta.get("region", "")).title()
    profession = runs[0].meta.get("profession", "gp")

    def write(tmp: Path) -> None:
        outputs.write_table(comparison.summary, tmp / "compare_summary.csv")
        outputs.write_table(comparison.communes, tmp / "compare_communes.csv")
        outputs.write_xlsx({"Par année": comparison.summary,
                            "Communes": comparison.communes.rename(
                                columns=report.compare_headers(comparison))},
                           tmp / "compare.xlsx", profession=profession,
                           notes={"Communes": " ; ".join(f"[{k + 1}] {r.label}"
                                                         for k, r in enumerate(runs))})
        report.write_compare_report(tmp / "report.html", comparison, region_name=region_name,
                                    profession=profession, chart_path=tmp / "compare_chart.png")
        _print_pdf(args, tmp, progress)

    outputs.write_atomic(args.out, [write])
    return {"scenarios": len(runs), "communes_differing": len(comparison.communes)}


def cmd_isochrones(args, progress) -> dict:
    from engine import outputs, tables

    try:
        bands = tuple(float(x) for x in args.minutes.split(","))
    except ValueError:
        raise _Usage(f"--minutes must be comma-separated numbers, got {args.minutes!r}") from None
    if not bands or any(not (0 < b < math.inf) for b in bands):
        raise _Usage(f"--minutes must be positive numbers of minutes, got {args.minutes!r}")
    if any(b >= c for b, c in zip(bands, bands[1:], strict=False)):
        raise _Usage(f"--minutes must be increasing, e.g. 10,15,20; got {args.minutes!r}")
    region = _region(args, progress)
    iso = tables.practitioner_isochrones(region, bands)
    outputs.write_atomic(args.out, [lambda tmp: outputs.write_isochrones(iso, tmp / "isochrones.gpkg")])
    return {"bands": list(bands), "practitioners": len(region.practitioners)}


class _Failed(Exception):
    """A check that failed: its lines are already printed; exit 1."""


def cmd_data(args, progress) -> dict:
    from engine.mirror import check_region, load_region, manifest

    if args.action == "list":
        for name, spec in manifest().get("regions", {}).items():
            print(f"{name}: {spec.get('description', '')}")
        return {}
    if args.action == "check":
        lines = check_region(args.region, profession=args.profession)
        for _ok, line in lines:
            print(line)
        if not all(ok for ok, _ in lines):
            raise _Failed(f"region {args.region!r}: data missing (see the lines above)")
        return {}
    if args.action == "assemble":
        region = load_region(args.region, year=args.year, cache=True, rebuild=True,
                             profession=args.profession)
        return {"region": region.name, "communes": region.n_communes,
                "practitioners": len(region.practitioners)}
    if args.action == "export":
        if not args.out:
            raise _Usage("data export needs --out FOLDER")
        from engine import outputs
        from scenarios.baseline import baseline

        region = load_region(args.region, year=args.year, profession=args.profession)
        ages = baseline(region).roster_ages(len(region.practitioners), seed=args.seed,
                                            profession=region.profession)
        written = outputs.write_atomic(args.out, [
            lambda tmp: outputs.export_region(region, tmp, ages=ages)])
        return {"written": len(written), "communes": region.n_communes,
                "practitioners": len(region.practitioners)}
    if args.action == "fetch":
        if not args.place or not args.out:
            raise _Usage("data fetch needs a place name and --out FILE.graphml")
        from engine.routing.loaders import fetch_graphml

        path = fetch_graphml(args.place, args.out)
        return {"written": str(path)}
    if args.action == "network":
        if not args.place or not args.out:
            raise _Usage("data network needs a network file and --out FILE.npz")
        from engine.inputs import load_planner_network

        progress.say(f"lecture de {args.place} ...")
        net = load_planner_network(args.place)
        path = net.save(args.out)
        return {"written": str(path), "nodes": net.n_nodes, "edges": net.n_edges}
    raise _Usage(f"unknown data action {args.action!r}")


def _data_error(exc: Exception) -> str:
    """The one line saying what is wrong with the data, without Python's class names."""
    if isinstance(exc, OSError) and not isinstance(exc, InputError) and exc.strerror:
        where = exc.filename if exc.filename is not None else None
        return f"{where}: {exc.strerror}" if where else exc.strerror
    text = " ".join(str(exc).split())
    return text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}"


def _interrupt_command(command: str):
    """The apl program's SIGINT handler while a command runs: drop what the run was writing
    and end at once, in one line (exit 130).

    Ending from the handler, rather than raising KeyboardInterrupt wherever the program
    happens to be, keeps an interrupt from landing in a finaliser or a compiled kernel (where
    Python prints "Exception ignored" and goes on, or numba aborts). The output folders keep
    their previous set: only write_atomic's staging folders are removed, and its switch to
    the new set holds interrupts until it is done.
    """

    def handler(signum, frame):  # pragma: no cover - timing dependent (tests/test_kill.py)
        outputs = sys.modules.get("engine.outputs")  # no import inside a signal handler
        if outputs is not None:
            outputs.abandon_staging()
        print(f"apl {command}: interrompu", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)

    return handler


def _one_line_warnings(command: str) -> None:
    """In the apl program, print each warning as one line naming the command.

    Python's own format adds the engine's file, line and source text, which tell a planner
    nothing; the message itself names the input file and what was assumed. Only the program
    does this: a library caller (or a test recording warnings) keeps Python's handling.
    """
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"apl {command}: warning: {text}", file=sys.stderr if file is None else file)

    warnings.showwarning = show


_COMMANDS = {"compute": cmd_compute, "forecast": cmd_forecast, "backtest": cmd_backtest,
             "optimize": cmd_optimize, "compare": cmd_compare,
             "isochrones": cmd_isochrones, "data": cmd_data}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``apl`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    progress = _Progress(getattr(args, "quiet", False))
    started = time.perf_counter()
    # Inside a command an interrupt unwinds (staging folders are removed, nothing is
    # published); before and after it, in the apl program, _quiet_interrupt exits at once.
    outside = signal.getsignal(signal.SIGINT)
    if outside is _quiet_interrupt:
        signal.signal(signal.SIGINT, _interrupt_command(args.command))
        _one_line_warnings(args.command)
    try:
        _check_options(args)
        out = getattr(args, "out", None)
        if out is not None and args.command not in ("data",):
            from engine.outputs import prepare_output

            try:
                prepare_output(out)
            except InputError as exc:
                raise _Usage(f"--out: {exc}") from None
        result = _COMMANDS[args.command](args, progress)
    except _Usage as exc:
        print(f"apl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except _Failed as exc:
        print(f"apl {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"apl {args.command}: interrompu", file=sys.stderr)
        return 130
    except (InputError, FileNotFoundError, ValueError, OSError) as exc:
        if _interrupted(exc):
            print(f"apl {args.command}: interrompu", file=sys.stderr)
            return 130
        if getattr(args, "debug", False):
            raise
        print(f"apl {args.command}: {_data_error(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"apl {args.command}: not enough memory for this run (try fewer --draws or a "
              "smaller region)", file=sys.stderr)
        return 1
    except Exception as exc:  # a fault of the engine, not of the data: say so in one line
        if _interrupted(exc):
            print(f"apl {args.command}: interrompu", file=sys.stderr)
            return 130
        if getattr(args, "debug", False):
            raise
        print(f"apl {args.command}: internal error ({type(exc).__name__}: {exc}); rerun with "
              "--debug and report it", file=sys.stderr)
        return 1
    finally:
        if getattr(args, "client", None) is not None:
            from engine.routing.cluster import disconnect

            disconnect(args.client)
        if outside is _quiet_interrupt:
            signal.signal(signal.SIGINT, _quiet_interrupt)
    if not getattr(args, "quiet", False) and result:
        out = getattr(args, "out", None)
        where = f" -> {out}" if out and args.command != "data" else ""
        facts = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items())
        print(f"apl {args.command}: terminé en {time.perf_counter() - started:.1f} s{where} : {facts}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

