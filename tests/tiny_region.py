"""A tiny study region made in code for command-line runs that must stay cheap: a synthetic
road grid saved as a network cache (.npz), five communes on it and a small roster, written in
the input formats of scenarios/examples/ (not part of the package)."""

from __future__ import annotations

from pathlib import Path

from synthetic import write_synthetic_osm

#: Five communes of the Cher (18) on the synthetic grid around 46.5N 2.5E.
COMMUNES_CSV = (
    "code_commune,nom,pop_totale,pop_standardisee,lon,lat\n"
    "18001,Aubigny,1000,1100,2.505,46.505\n"
    "18002,Bourges,2000,1900,2.520,46.515\n"
    "18003,Culan,500,520,2.535,46.525\n"
    "18004,Dun,3000,3100,2.550,46.535\n"
    "18005,Epineuil,800,700,2.510,46.530\n"
)

#: Three GPs given by commune code, with ages and activities.
PRACTITIONERS_CSV = (
    "id,code_commune,age,activity\n"
    "G1,18001,50,4000\n"
    "G2,18002,62,5000\n"
    "G3,18004,40,3000\n"
)

#: Two GPs given by their practice's point.
PRACTITIONER_POINTS_CSV = (
    "id,lon,lat,age,activity\n"
    "G1,2.506,46.506,50,4000\n"
    "G2,2.521,46.514,62,5000\n"
)


def write_network(folder: Path) -> Path:
    """The 30 x 30 synthetic grid (about 4.5 km across), saved as ``grid.npz`` in ``folder``."""
    from engine.routing.loaders import load_network

    folder.mkdir(parents=True, exist_ok=True)
    pbf = folder / "grid.osm.pbf"
    write_synthetic_osm(pbf, 30, 30, seed=1)
    return load_network(pbf).save(folder / "grid.npz")


def write_inputs(folder: Path) -> dict[str, Path]:
    """The network, communes and roster files of the tiny region, by role."""
    files = {"network": write_network(folder), "communes": folder / "communes.csv",
             "practitioners": folder / "practitioners.csv",
             "points": folder / "practitioner_points.csv"}
    files["communes"].write_text(COMMUNES_CSV, encoding="utf-8")
    files["practitioners"].write_text(PRACTITIONERS_CSV, encoding="utf-8")
    files["points"].write_text(PRACTITIONER_POINTS_CSV, encoding="utf-8")
    return files
