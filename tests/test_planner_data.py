"""The planner's own data on the built-in region: a roster with ages and activity in the files
French offices write, territories, and the export of the region's inputs (Corsica, real data)."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from engine.cli import main
from engine.mirror import region_inputs

OUTPUTS = ("communes.csv", "forecast.csv", "report.html", "map.html")


@pytest.fixture(scope="module")
def roster(mirror):
    """The 335 Corsican GPs of the BPE with made-up ages and activities (seeded)."""
    _, gps, _ = region_inputs("corse", mirror, 2022)
    rng = np.random.default_rng(7)
    n = len(gps)
    return pd.DataFrame({
        "id": [f"RPPS{k:05d}" for k in range(n)],
        "profession": "Médecin généraliste",
        "code_commune": gps["code_commune"].to_numpy(),
        "age": rng.integers(30, 72, n),
        "activity": np.round(rng.uniform(1500, 7500, n), 1),
        "centre_de_sante": np.where(rng.random(n) < 0.05, "oui", "non"),
    })


def _french_excel(df: pd.DataFrame, path, *, bom: bool = False, encoding: str = "cp1252"):
    text = df.rename(columns={"code_commune": "Code commune", "activity": "Activité",
                              "age": "Âge", "profession": "Profession", "id": "Identifiant",
                              "centre_de_sante": "Centre de santé"})
    body = text.to_csv(sep=";", index=False, decimal=",", lineterminator="\r\n")
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + body.encode(encoding))
    return path


def _xlsx(df: pd.DataFrame, path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Praticiens"
    sheet.append(["Identifiant", "Profession", "Code commune", "Âge", "Activité",
                  "Centre de santé"])
    for row in df.itertuples(index=False):
        sheet.append([row.id, row.profession, row.code_commune, int(row.age), float(row.activity),
                      row.centre_de_sante])
    book.save(path)
    return path


def _run(*argv) -> int:
    return main([*argv, "--quiet"])


def test_roster_in_four_formats_gives_identical_results(roster, tmp_path):
    files = {
        "utf8": tmp_path / "roster.csv",
        "cp1252": _french_excel(roster, tmp_path / "roster_fr.csv"),
        "bom": _french_excel(roster, tmp_path / "roster_bom.csv", bom=True, encoding="utf-8"),
        "xlsx": _xlsx(roster, tmp_path / "roster.xlsx"),
    }
    roster.to_csv(files["utf8"], index=False)
    results = {}
    for name, path in files.items():
        out = tmp_path / f"out_{name}"
        assert _run("forecast", "--region", "corse", "--practitioners", str(path), "--draws", "30",
                    "--new", "0", "--out", str(out)) == 0, name
        results[name] = (pd.read_csv(out / "communes.csv", dtype={"code_commune": str}),
                         pd.read_csv(out / "forecast.csv", dtype={"code_commune": str}))
    ref_communes, ref_forecast = results["utf8"]
    assert int(ref_communes["practitioners"].sum()) == len(roster)
    for name, (communes, fc) in results.items():
        pd.testing.assert_frame_equal(communes, ref_communes, check_exact=True, obj=name)
        pd.testing.assert_frame_equal(fc, ref_forecast, check_exact=True, obj=name)
    # The roster's activity counts: the engine's own APL differs from the BPE's default.
    default = pd.read_csv(tmp_path / "out_utf8" / "communes.csv")  # same file, read back
    assert (default["apl_modele"] > 0).any()


def test_bad_roster_row_is_one_line_and_writes_nothing(roster, tmp_path, capsys):
    bad = roster.copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[41, "age"] = "soixante"
    path = _french_excel(bad, tmp_path / "bad.csv")
    out = tmp_path / "out"
    code = main(["forecast", "--region", "corse", "--practitioners", str(path), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert "Traceback" not in "\n".join(err)
    assert f"{path}:43, column 'Âge'" in err[-1] and "soixante" in err[-1]
    assert not out.exists()
    # A commune the region does not have: the file, its line, its column.
    unknown = roster.copy()
    unknown.loc[9, "code_commune"] = "01004"
    path = _french_excel(unknown, tmp_path / "unknown.csv")
    assert main(["forecast", "--region", "corse", "--practitioners", str(path),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert f"{path}:11, column 'Code commune'" in err[-1] and "01004" in err[-1]
    assert not out.exists()


def test_zones_aggregate_like_drees(mirror, tmp_path):
    out = tmp_path / "zones"
    epci = mirror / "insee" / "epci_communes.csv"
    assert _run("compute", "--region", "corse", "--zones", str(epci), "--no-isochrones",
                "--out", str(out)) == 0
    zones = pd.read_csv(out / "zones.csv", dtype={"zone": str})
    communes = pd.read_csv(out / "communes.csv", dtype={"code_commune": str})
    assert len(zones) == 19
    assert zones["pop_totale"].sum() == pytest.approx(communes["pop_totale"].sum())
    members = pd.read_csv(epci, dtype={"code_commune": str, "epci_code": str})
    table = communes.merge(members[["code_commune", "epci_code"]], on="code_commune")
    for zone, group in table.groupby("epci_code"):
        expected = (group["apl"] * group["pop_standardisee"]).sum() / group["pop_standardisee"].sum()
        got = zones.set_index("zone").loc[zone, "apl"]
        assert got == pytest.approx(expected, rel=1e-12)
        deficit = group.loc[group["apl"] < 2.5, "pop_totale"].sum()
        assert zones.set_index("zone").loc[zone, "pop_deficit"] == pytest.approx(deficit)
    html = (out / "report.html").read_text("utf-8")
    assert 'id="zones-table"' in html and 'id="map-zones"' in html
    assert (out / "map_zones.png").stat().st_size > 10_000


def test_zones_in_a_forecast(mirror, tmp_path):
    out = tmp_path / "fc"
    epci = mirror / "insee" / "epci_communes.csv"
    assert _run("forecast", "--zones", str(epci), "--draws", "40", "--new", "0",
                "--out", str(out)) == 0
    zf = pd.read_csv(out / "zones_forecast.csv", dtype={"zone": str})
    assert set(zf["year"]) == set(range(2022, 2033)) and zf["zone"].nunique() == 19
    assert zf["share_deficit_mean"].between(0, 1).all()
    # The zone's crossing year is the first year its median APL is under 2.5.
    for _zone, g in zf.groupby("zone"):
        under = g.loc[g["apl_median"] < 2.5, "year"]
        expected = under.min() if len(under) else None
        got = g["annee_deficit"].iloc[0]
        assert (pd.isna(got) and expected is None) or got == expected


def test_export_round_trips(mirror, tmp_path):
    export = tmp_path / "export"
    assert _run("data", "export", "--region", "corse", "--out", str(export)) == 0
    for name in ("communes.csv", "practitioners.csv", "official.csv", "network.npz"):
        assert (export / name).is_file(), name
    gps = pd.read_csv(export / "practitioners.csv")
    assert (gps["age_imputed"] == "oui").all() and gps["age"].between(28, 79).all()
    region_out, files_out = tmp_path / "region", tmp_path / "files"
    assert _run("compute", "--no-isochrones", "--out", str(region_out)) == 0
    assert _run("compute", "--no-isochrones", "--out", str(files_out),
                "--network", str(export / "network.npz"),
                "--communes", str(export / "communes.csv"),
                "--practitioners", str(export / "practitioners.csv"),
                "--official", str(export / "official.csv")) == 0
    a = pd.read_csv(region_out / "communes.csv", dtype={"code_commune": str})
    b = pd.read_csv(files_out / "communes.csv", dtype={"code_commune": str})
    for col in ("apl", "apl_modele", "apl_u65", "classe", "practitioners", "unlisted"):
        np.testing.assert_array_equal(a[col].to_numpy(), b[col].to_numpy(), err_msg=col)


def test_zones_of_own_communes_on_an_embedded_region(mirror, tmp_path):
    # Review: the zones were matched to Corsica's communes before the user's replaced them
    # ("no commune of region 'corse' is in the zones given").
    from tiny_region import write_inputs

    from engine.inputs import build_region

    tiny = write_inputs(tmp_path / "tiny")
    zones = tmp_path / "zones.csv"
    zones.write_text("code_commune,zone\n18001,Z1\n18002,Z1\n18003,Z2\n18004,Z2\n18005,Z2\n",
                     encoding="utf-8")
    region = build_region(region="corse", network=tiny["network"], communes=tiny["communes"],
                          practitioners=tiny["practitioners"], zones=zones)
    assert list(region.zones["zone"]) == ["Z1", "Z1", "Z2", "Z2", "Z2"]
    assert region.sources["zones"] == "fichier zones.csv"
