"""The ``apl`` command line: the planner's jobs in one command each.

Exit codes: 0 success, 1 data error (one line naming the file, row and column), 2 usage
error. ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.errors import InputError

EPILOG_COMPUTE = "example:\n  apl compute --out out/corse\n  apl compute --communes my.gpkg --practitioners gps.csv --network roads.osm.pbf --out out/mine\n  apl compute --network data/france-drive.npz --communes france.gpkg --practitioners gps.csv --no-isochrones"
EPILOG_FORECAST = "example:\n  apl forecast --scenario scenarios/retirement-hazard.toml --draws 500 --out out/forecast"
EPILOG_OPTIMIZE = "example:\n  apl optimize --new 10 --year 2027 --out out/optimize"
EPILOG_ISO = "example:\n  apl isochrones --minutes 10,15,20 --out out/iso"
EPILOG_DATA = "examples:\n  apl data list\n  apl data check\n  apl data assemble --region corse\n  apl data fetch \"Bastia, France\" --out data/osm/bastia.graphml\n  apl data network france-latest.osm.pbf --out data/france-drive.npz"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as argparse does, with a hint
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _common(p: argparse.ArgumentParser, *, out_default: str, year_is_data: bool = True) -> None:
    g = p.add_argument_group("inputs (default: the embedded region 'corse', assembled from the data mirror)")
    g.add_argument("--region", default="corse", help="embedded region name (default: corse)")
    g.add_argument("--network", help="road network file (.graphml[.gz], .osm[.gz|.bz2], .osm.pbf, .npz)")
    g.add_argument("--communes", help="communes: GeoPackage or CSV (see scenarios/examples/)")
    g.add_argument("--practitioners", help="practitioners CSV (see scenarios/examples/)")
    # For optimize, --year is the planning year the issue and planners ask for; the data
    # year is --data-year everywhere (and --year elsewhere, where no other year exists).
    flags = ("--data-year", "--year") if year_is_data else ("--data-year",)
    g.add_argument(*flags, dest="data_year", type=int, default=None, metavar="YEAR",
                   help="data year (DREES populations: 2022 or 2023; default 2022)")
    c = p.add_argument_group("computation")
    c.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="route on a Dask cluster: tcp://host:8786, or local[:N] for N local worker "
                        "processes (needs apl-engine[dask]; see docs/scaling.md)")
    o = p.add_argument_group("output")
    o.add_argument("--out", default=out_default, help=f"output folder (default: {out_default})")
    o.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    o.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    o.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``apl`` command."""
    parser = _Parser(prog="apl", description="Accessibility to general practitioners (APL, DREES) "
                     "on OpenStreetMap roads: compute, forecast retirements, place new GPs.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="Run 'apl COMMAND --help' for each command's options and an example.")
    parser.add_argument("--version", action="version", version="apl-engine 0.1.0")
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
    p.add_argument("--scenario", default=str(Path(__file__).resolve().parent.parent / "scenarios" /
                                             "retirement-hazard.toml"),
                   help="scenario TOML file or shipped name (default: scenarios/retirement-hazard.toml)")
    p.add_argument("--draws", type=int, default=500, help="Monte Carlo draws (default: 500)")
    p.add_argument("--new", type=int, default=10, help="GPs the optimizer proposes in the report (default: 10; 0: none)")

    p = sub.add_parser("optimize", help="where to install N new GPs", epilog=EPILOG_OPTIMIZE,
                       formatter_class=fmt)
    _common(p, out_default="out/optimize", year_is_data=False)
    p.add_argument("--new", type=int, required=True, help="number of sites to propose")
    p.add_argument("--gps-per-site", type=int, default=1, help="GPs per site (3-5 for an MSP; default 1)")
    p.add_argument("--objective", choices=["population_in_deficit", "deficit_gap"],
                   default="population_in_deficit", help="what each step maximises")
    p.add_argument("--year", "--plan-year", dest="plan_year", type=int, default=None, metavar="YEAR",
                   help="planning year: GPs over 65 by then are assumed gone (default: data year)")

    p = sub.add_parser("isochrones", help="travel-time isochrones around practitioners",
                       epilog=EPILOG_ISO, formatter_class=fmt)
    _common(p, out_default="out/isochrones")
    p.add_argument("--minutes", default="10,15,20", help="comma-separated bands (default: 10,15,20)")

    p = sub.add_parser("data", help="list, check and assemble regions; fetch networks",
                       epilog=EPILOG_DATA, formatter_class=fmt)
    p.add_argument("action", choices=["list", "check", "assemble", "fetch", "network"])
    p.add_argument("place", nargs="?", help="with fetch: a place name for osmnx; with network: a "
                   "network file (.osm.pbf is streamed and contracted) to save as a fast .npz cache")
    p.add_argument("--region", default="corse")
    p.add_argument("--year", type=int, default=2022)
    p.add_argument("--out", default=None, help="with fetch: the GraphML file to write")
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
            print(message, file=sys.stderr)

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
        from engine.distributed import connect

        progress.say(f"connecting to the Dask scheduler {address} ...")
        try:
            args.client = connect(address)
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise _Usage(f"--scheduler: {exc}") from None
    return args.client


def _region(args, progress: _Progress):
    from engine.region import load_region, region_from_files

    client = _client(args, progress)

    year = args.data_year or 2022
    if args.communes or args.practitioners or args.network:
        missing = [n for n in ("network", "communes", "practitioners") if not getattr(args, n)]
        if missing:
            raise _Usage(f"--network, --communes and --practitioners go together; missing --{missing[0]}")
        progress.say("loading your files ...")
        region = region_from_files(args.network, args.communes, args.practitioners, year=year,
                                   client=client)
        step = progress("routing communes")
        step(0, 1)
        region.weights()
        step(1, 1)
        return region
    progress.say(f"loading region {args.region!r} ...")
    return load_region(args.region, year=year, progress=progress("region"), client=client)


class _Usage(Exception):
    pass


def _polygons(region):
    from engine.region import polygons_path

    return polygons_path(region)


def cmd_compute(args, progress) -> dict:
    from engine import isochrones, maps, outputs, report
    from engine.pipeline import commune_table, gp_points, zoning_table
    from engine.raster import rasterize_travel_time, travel_time_to_nearest, write_geotiff

    region = _region(args, progress)
    table = commune_table(region, polygons=_polygons(region))
    summary = zoning_table(table)
    gps = gp_points(region)
    nodes, _ = region.network.snap(gps["lon"].to_numpy(), gps["lat"].to_numpy())
    minutes = travel_time_to_nearest(region.network, sorted(set(nodes.tolist())), max_minutes=60)
    raster = rasterize_travel_time(region.network, minutes)
    iso = None
    if args.isochrones:
        progress.say("isochrones around GPs (10, 15, 20 min) ...")
        iso = isochrones(region.network, sorted(set(nodes.tolist())), minutes=(10, 15, 20),
                         dissolve=True)

    def write(tmp: Path) -> None:
        outputs.write_communes(table, tmp)
        outputs.write_table(summary, tmp / "zoning_summary.csv")
        if iso is not None:
            outputs.write_isochrones(iso, tmp / "isochrones.gpkg")
        write_geotiff(tmp / "travel_time_to_gp.tif", *raster)
        maps.map_apl_png(table, tmp / "map_apl.png", title=f"APL aux médecins généralistes — {region.name.title()}")
        maps.map_html(table, tmp / "map.html", practitioners_points=gps, isochrones=iso)
        report.write_report(tmp / "report.html", region_name=region.name.title(), communes=table,
                            zoning_summary=summary, maps={"apl": tmp / "map_apl.png"},
                            meta={"seed": args.seed})

    outputs.write_atomic(args.out, [write])
    n_under = int((table["apl"] < 2.5).sum())
    pop_under = float(table.loc[table["apl"] < 2.5, "pop_totale"].sum())
    return {"communes": len(table), "communes_under_2_5": n_under,
            "population_under_2_5": pop_under,
            "share_under_2_5": pop_under / float(table["pop_totale"].sum())}


def cmd_forecast(args, progress) -> dict:
    from engine import maps, outputs, report
    from engine.pipeline import commune_table, gp_points, zoning_table
    from scenarios import forecast, load_scenario, optimize_installations

    if args.draws < 1:
        raise _Usage("--draws must be at least 1")
    scenario = load_scenario(args.scenario)
    region = _region(args, progress)
    table = commune_table(region, polygons=_polygons(region))
    summary = zoning_table(table)
    fc = forecast(region, scenario, draws=args.draws, seed=args.seed, progress=progress("forecast"))
    newly = fc.newly_in_deficit()
    installs = None
    if args.new:
        # Start from the scenario's own expected supply in its last year.
        installs = optimize_installations(region, args.new, supply=fc.supply_in(scenario.years[-1]),
                                          progress=progress("optimize"))
    last = fc.communes[fc.communes["year"] == scenario.years[-1]].set_index("code_commune")
    table["apl_forecast"] = table["code_commune"].map(last["apl_mean"])
    table["p_deficit_forecast"] = table["code_commune"].map(last["p_deficit"])
    gps = gp_points(region)

    def write(tmp: Path) -> None:
        outputs.write_communes(table, tmp)
        outputs.write_table(fc.communes[["code_commune", "year", "apl_mean", "apl_p10", "apl_p90",
                                         "p_deficit", "classe"]], tmp / "forecast.csv")
        outputs.write_table(fc.summary, tmp / "forecast_summary.csv")
        outputs.write_table(newly, tmp / "new_deficit.csv")
        if installs is not None:
            outputs.write_table(installs, tmp / "installations.csv")
        maps.map_apl_png(table, tmp / "map_apl.png", title=f"APL aux médecins généralistes — {region.name.title()}")
        maps.map_forecast_png(table, fc.communes, tmp / "map_forecast.png")
        maps.map_html(table, tmp / "map.html", practitioners_points=gps)
        report.write_report(tmp / "report.html", region_name=region.name.title(), communes=table,
                            zoning_summary=summary, forecast_summary=fc.summary, newly_in_deficit=newly,
                            installations=installs, scenario_name=scenario.name,
                            maps={"apl": tmp / "map_apl.png", "forecast": tmp / "map_forecast.png"},
                            meta={"seed": args.seed, "draws": args.draws, "scenario": scenario.path})

    outputs.write_atomic(args.out, [write])
    first, last_row = fc.summary.iloc[0], fc.summary.iloc[-1]
    return {"scenario": scenario.name, "years": f"{scenario.years[0]}-{scenario.years[-1]}",
            "share_under_2_5_first_year": float(first["share_under_2_5_mean"]),
            "share_under_2_5_last_year": float(last_row["share_under_2_5_mean"]),
            "communes_newly_in_deficit": len(newly)}


def cmd_optimize(args, progress) -> dict:
    from engine import outputs
    from scenarios import optimize_installations

    if args.new < 1:
        raise _Usage("--new must be at least 1")
    region = _region(args, progress)
    result = optimize_installations(region, args.new, year=args.plan_year, objective=args.objective,
                                    gps_per_site=args.gps_per_site, seed=args.seed,
                                    progress=progress("optimize"))
    outputs.write_atomic(args.out, [lambda tmp: outputs.write_table(result, tmp / "installations.csv")])
    return {"sites": len(result), "population_lifted": float(result["population_lifted"].sum())}


def cmd_isochrones(args, progress) -> dict:
    from engine import isochrones, outputs
    from engine.pipeline import gp_points

    try:
        bands = tuple(float(x) for x in args.minutes.split(","))
    except ValueError:
        raise _Usage(f"--minutes must be comma-separated numbers, got {args.minutes!r}") from None
    region = _region(args, progress)
    gps = gp_points(region)
    nodes, _ = region.network.snap(gps["lon"].to_numpy(), gps["lat"].to_numpy())
    iso = isochrones(region.network, sorted(set(nodes.tolist())), minutes=bands, dissolve=True)
    outputs.write_atomic(args.out, [lambda tmp: outputs.write_isochrones(iso, tmp / "isochrones.gpkg")])
    return {"bands": list(bands), "sources": len(set(nodes.tolist()))}


def cmd_data(args, progress) -> dict:
    from engine.region import check_region, load_region, manifest

    if args.action == "list":
        for name, spec in manifest().get("regions", {}).items():
            print(f"{name}: {spec.get('description', '')}")
        return {}
    if args.action == "check":
        report = check_region(args.region)
        for line in report:
            print(line)
        return {}
    if args.action == "assemble":
        region = load_region(args.region, year=args.year, cache=True, rebuild=True)
        return {"region": region.name, "communes": region.n_communes, "gps": len(region.practitioners)}
    if args.action == "fetch":
        if not args.place or not args.out:
            raise _Usage("data fetch needs a place name and --out FILE.graphml")
        from engine.routing.loaders import fetch_graphml

        path = fetch_graphml(args.place, args.out)
        return {"written": str(path)}
    if args.action == "network":
        if not args.place or not args.out:
            raise _Usage("data network needs a network file and --out FILE.npz")
        from engine.region import load_planner_network

        progress.say(f"reading {args.place} ...")
        net = load_planner_network(args.place)
        path = net.save(args.out)
        return {"written": str(path), "nodes": net.n_nodes, "edges": net.n_edges}
    raise _Usage(f"unknown data action {args.action!r}")


_COMMANDS = {"compute": cmd_compute, "forecast": cmd_forecast, "optimize": cmd_optimize,
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
    try:
        result = _COMMANDS[args.command](args, progress)
    except _Usage as exc:
        print(f"apl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (InputError, FileNotFoundError, ValueError, OSError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"apl {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if getattr(args, "client", None) is not None:
            from engine.distributed import disconnect

            disconnect(args.client)
    if not getattr(args, "quiet", False) and result:
        out = getattr(args, "out", None)
        where = f" -> {out}" if out and args.command != "data" else ""
        facts = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items())
        print(f"apl {args.command}: done in {time.perf_counter() - started:.1f} s{where}: {facts}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

