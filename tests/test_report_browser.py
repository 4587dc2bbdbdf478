"""The report in a real headless Chromium, offline (the interactive map: tests/test_maps.py).

The test records console errors, uncaught exceptions, failed loads and every request that is
not a ``file:``/``data:`` URL (:func:`browser.problems`), then checks that the key elements
are present and rendered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import Browser, chromium, problems
from test_outputs import make_communes, make_forecast

from engine import maps, report


@pytest.fixture(scope="module")
def browser():
    b = Browser(chromium())
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def outputs_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    communes = make_communes()
    fc, summary, newly, inst = make_forecast(communes)
    m1 = maps.map_apl_png(communes, out / "map_apl.png")
    m2 = maps.map_forecast_png(communes, fc, out / "map_forecast.png")
    zs = communes.groupby("classe").agg(communes=("code_commune", "size"),
                                        population=("pop_totale", "sum")).reset_index()
    report.write_report(out / "report.html", region_name="Test", communes=communes,
                        zoning_summary=zs, forecast_summary=summary, newly_in_deficit=newly,
                        installations=inst, maps={"apl": m1, "forecast": m2},
                        meta={"seed": 1, "draws": 50})
    return out


def test_report_loads_without_errors(browser, outputs_dir):
    events = browser.open((outputs_dir / "report.html").as_uri())
    assert problems(events) == []
    for ident in ("map-apl", "map-forecast", "forecast-chart"):
        size = browser.eval(f"(() => {{ const e = document.getElementById('{ident}');"
                            " return e && e.complete ? [e.naturalWidth, e.naturalHeight] : null; })()")
        assert size and min(size) > 200, f"image #{ident} missing or not decoded: {size}"
    for ident in ("population-by-class", "new-deficit", "installations"):
        rows = browser.eval(f"document.querySelectorAll('#{ident} tbody tr').length")
        assert rows and rows > 0, ident
    assert browser.eval("document.title").startswith("Accès aux médecins")
