"""Readers of the mirror's INSEE, BPE and DREES files: real files and broken copies in tmp."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError
from engine.mirror import commune_points, corsica_inputs, read_bpe, read_communes, read_drees_apl


def test_read_communes_corsica(mirror):
    c = read_communes(mirror / "insee" / "communes_france.csv", departements=["2A", "2B"])
    assert len(c) == 360
    assert c["code_commune"].str.match(r"^2[AB]\d{3}$").all()


def test_read_communes_keeps_leading_zeros(mirror):
    c = read_communes(mirror / "insee" / "communes_france.csv", departements=["01"])
    assert "01001" in set(c["code_commune"])


def test_read_bpe_and_drees(mirror):
    b = read_bpe(mirror / "insee" / "bpe2019_sante_par_commune.csv", ["D201"])
    assert int(b["count"].sum()) == 61_429
    corse = b[b["code_commune"].str[:2].isin(["2A", "2B"])]
    assert int(corse["count"].sum()) == 335
    d = read_drees_apl(mirror / "drees" / "apl_medecins_generalistes_2022_2023.csv", 2022)
    assert d["code_commune"].is_unique and "01001" in set(d["code_commune"])
    with pytest.raises(InputError, match="year 2019"):
        read_drees_apl(mirror / "drees" / "apl_medecins_generalistes_2022_2023.csv", 2019)


def test_corsica_inputs(mirror):
    communes, gps = corsica_inputs(mirror, 2022)
    assert len(communes) == 360 and len(gps) == 335
    assert communes["lon"].notna().all() and communes["pop_standardisee"].gt(0).all()
    assert set(gps["code_commune"]) <= set(communes["code_commune"])
    # town halls outside their commune (Pruno's is 49 km away) fall back to the inner point
    assert (communes["point_source"] == "point").sum() >= 20
    assert communes.set_index("code_commune").loc["2B252", "point_source"] == "point"


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_bad_files_name_file_row_column(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_communes(tmp_path / "missing.csv")
    p = _write(tmp_path, "c.csv", "code_commune,departement\n01001,01\n")
    with pytest.raises(InputError, match="missing column"):
        read_communes(p)
    header = ("code_commune,nom,type,population_municipale,departement,mairie_lon,mairie_lat,"
              "point_lon,point_lat,area_km2\n")
    p = _write(tmp_path, "c2.csv", header + "01001,A,COM,10,01,4.9,46.1,4.9,46.1,1\n"
               "1002,B,COM,10,01,4.9,46.1,4.9,46.1,1\n")
    with pytest.raises(InputError, match="1002") as err:
        read_communes(p)
    assert err.value.line == 3 and err.value.column == "code_commune"
    p = _write(tmp_path, "c3.csv", header + "01001,A,COM,ten,01,4.9,46.1,4.9,46.1,1\n")
    with pytest.raises(InputError, match="ten") as err:
        read_communes(p)
    assert err.value.line == 2 and err.value.column == "population_municipale"
    p = _write(tmp_path, "c4.csv", header + "01001,A,COM,1,01,4.9,46.1,4.9,46.1,1\n"
               "01001,A,COM,1,01,4.9,46.1,4.9,46.1,1\n")
    with pytest.raises(InputError, match="duplicate"):
        read_communes(p)


def test_bad_bpe_counts(tmp_path):
    p = _write(tmp_path, "b.csv", "code_commune,D201\n2A004,3\n2B033,-1\n")
    with pytest.raises(InputError, match="-1") as err:
        read_bpe(p)
    assert err.value.line == 3 and err.value.column == "D201"
    p = _write(tmp_path, "b2.csv", "code_commune,D201\n2A004,1.5\n")
    with pytest.raises(InputError, match="integer"):
        read_bpe(p)
    with pytest.raises(InputError, match="D999"):
        read_bpe(p, codes=["D999"])
    p = _write(tmp_path, "b3.csv", "code_commune,D201\n2A004,2\n2B033,0\n")
    b = read_bpe(p)
    assert b["code_commune"].tolist() == ["2A004"] and b["count"].tolist() == [2]


def test_bad_drees_rows(tmp_path):
    header = "annee,code_commune,commune,apl,apl_moins_65,pop_standardisee,pop_totale\n"
    p = _write(tmp_path, "d.csv", header + "2022,2A004,Ajaccio,3.2,2.9,70000,72000\n"
               "2023,2A004,Ajaccio,3.1,2.8,70000,72000\n2022,2B033,Bastia,x,2.0,40000,45000\n")
    with pytest.raises(InputError, match="'x'") as err:
        read_drees_apl(p, 2022)
    assert err.value.line == 4 and err.value.column == "apl"
    assert len(read_drees_apl(p, 2023)) == 1


def test_commune_points_distance_rule():
    df = pd.DataFrame({"mairie_lon": [9.0, 9.5, np.nan], "mairie_lat": [42.0, 42.0, np.nan],
                       "point_lon": [9.001, 9.0, 9.2], "point_lat": [42.0, 42.0, 42.1],
                       "area_km2": [10.0, 10.0, 10.0]})
    lon, lat, src = commune_points(df)
    assert src.tolist() == ["mairie", "point", "point"]
    assert lon.tolist() == [9.0, 9.0, 9.2]
