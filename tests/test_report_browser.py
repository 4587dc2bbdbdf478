"""The report and the interactive map in a real headless Chromium, offline.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (file
descriptors 3 and 4), with the standard library only: no selenium, no playwright. The test
records console errors, uncaught exceptions, failed loads and every request that is not a
``file:``/``data:`` URL, then checks that the key elements are present and rendered.

Chromium is a system package (Debian: ``apt-get install chromium``). Without it the tests
skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from test_outputs import make_communes, make_forecast

from engine import maps, report

_TIMEOUT_S = 60.0


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("chromium is not installed; CI must install it (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


class _Browser:
    """A headless Chromium with one page, spoken to over the DevTools pipe."""

    def __init__(self, exe: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="apl-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Move the child's ends above 9, so that the redirections to 3 and 4 below cannot
        # overwrite one another (pytest may have left fds 3 and 4 free for os.pipe()).
        to_chrome_r, from_chrome_w = (self._high_fd(to_chrome_r), self._high_fd(from_chrome_w))
        args = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
            "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
            "--window-size=1280,900", "about:blank",
        ]
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    @staticmethod
    def _high_fd(fd: int) -> int:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        self._replies[msg["id"]] = msg
                        self._lock.notify_all()
                else:
                    self._events.put(msg)

    def call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        ident = self._next_id
        msg = {"id": ident, "method": method, "params": params or {}}
        if self.session is not None:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + _TIMEOUT_S
        with self._lock:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no reply from chromium to {method}")
                self._lock.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str, settle_s: float = 1.0) -> list[dict]:
        """Load ``url``; return every event until ``settle_s`` after the load event."""
        self.call("Page.navigate", {"url": url})
        events, loaded_at = [], None
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            if loaded_at is not None and time.monotonic() - loaded_at > settle_s:
                break
            try:
                ev = self._events.get(timeout=0.1)
            except queue.Empty:
                continue
            events.append(ev)
            if ev.get("method") == "Page.loadEventFired":
                loaded_at = time.monotonic()
        assert loaded_at is not None, f"{url} did not finish loading"
        return events

    def eval(self, expression: str):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def close(self) -> None:
        try:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)


def _problems(events: list[dict]) -> list[str]:
    """Console errors, exceptions, failed loads and non-local requests in ``events``."""
    out = []
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description') or p['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            out.append(f"failed load: {p.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                out.append(f"external request: {url}")
    return out


@pytest.fixture(scope="module")
def browser():
    b = _Browser(_chromium())
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def outputs_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    communes = make_communes()
    fc, summary, newly, inst = make_forecast(communes)
    gps = pd.DataFrame({"lon": [8.72, 8.72, 8.8], "lat": [41.92, 41.92, 42.0],
                        "code_commune": ["00001", "00001", "00006"]})
    iso = gpd.GeoDataFrame({"source": ["a", "a"], "minutes": [10, 20]}, geometry=gpd.GeoSeries.from_wkt(
        ["POLYGON((8.7 41.9, 8.8 41.9, 8.8 42, 8.7 42, 8.7 41.9))",
         "POLYGON((8.7 41.9, 8.85 41.9, 8.85 42.05, 8.7 42.05, 8.7 41.9))"]), crs="EPSG:4326")
    m1 = maps.map_apl_png(communes, out / "map_apl.png")
    m2 = maps.map_forecast_png(communes, fc, out / "map_forecast.png")
    zs = communes.groupby("classe").agg(communes=("code_commune", "size"),
                                        population=("pop_totale", "sum")).reset_index()
    report.write_report(out / "report.html", region_name="Test", communes=communes,
                        zoning_summary=zs, forecast_summary=summary, newly_in_deficit=newly,
                        installations=inst, maps={"apl": m1, "forecast": m2},
                        meta={"seed": 1, "draws": 50})
    maps.map_html(communes, out / "map.html", practitioners_points=gps, isochrones=iso)
    return out


def test_report_loads_without_errors(browser, outputs_dir):
    events = browser.open((outputs_dir / "report.html").as_uri())
    assert _problems(events) == []
    for ident in ("map-apl", "map-forecast", "forecast-chart"):
        size = browser.eval(f"(() => {{ const e = document.getElementById('{ident}');"
                            " return e && e.complete ? [e.naturalWidth, e.naturalHeight] : null; })()")
        assert size and min(size) > 200, f"image #{ident} missing or not decoded: {size}"
    for ident in ("population-by-class", "new-deficit", "installations"):
        rows = browser.eval(f"document.querySelectorAll('#{ident} tbody tr').length")
        assert rows and rows > 0, ident
    assert browser.eval("document.title").startswith("Accès aux médecins")


def test_map_loads_without_errors_and_renders(browser, outputs_dir):
    events = browser.open((outputs_dir / "map.html").as_uri())
    assert _problems(events) == []
    assert browser.eval("typeof L") == "object", "Leaflet did not load"
    assert browser.eval("document.querySelectorAll('.leaflet-container').length") == 1
    n_paths = browser.eval("document.querySelectorAll('path.leaflet-interactive').length")
    assert n_paths == 16 + 2  # communes, GP circles (two GPs share a point)
    n_all = browser.eval("document.querySelectorAll('.leaflet-overlay-pane path').length")
    assert n_all == 16 + 2 + 2  # and the two isochrones, drawn but not interactive
    labels = browser.eval("[...document.querySelectorAll('.leaflet-control-layers label')]"
                          ".map(l => l.textContent.trim())")
    assert any("Communes" in t for t in labels) and any("Médecins" in t for t in labels)
    assert "OpenStreetMap" in browser.eval(
        "document.querySelector('.leaflet-control-attribution').textContent")
    assert browser.eval("!!document.getElementById('apl-legend')")

    # Hovering a commune shows its tooltip with the APL.
    box = browser.eval("(() => { const p = [...document.querySelectorAll('path.leaflet-interactive')]"
                       ".find(e => e.getAttribute('fill') === '#b2182b');"
                       " const r = p.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    for kind in ("mouseMoved", "mouseMoved"):
        browser.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0] + 1, "y": box[1]})
        time.sleep(0.2)
    tooltip = browser.eval("(document.querySelector('.leaflet-tooltip') || {}).textContent || ''")
    assert "APL" in tooltip and "Sous-dense" in tooltip, tooltip


def test_map_of_corsica_renders(browser, mirror, tmp_path):
    g = gpd.read_file(mirror / "insee" / "communes_corse.gpkg", layer="communes")
    g = g.rename(columns={"population_municipale": "pop_totale"})
    g["apl"] = np.log1p(g.pop_totale) / 2
    g["apl_u65"] = g["apl"] * 0.8
    g["classe"] = np.where(g.apl < 2.5, "sous-dense", np.where(g.apl < 4, "intermediaire", "hors-zone"))
    gps = pd.DataFrame({"lon": g.mairie_lon[:50], "lat": g.mairie_lat[:50],
                        "code_commune": g.code_commune[:50]})
    path = maps.map_html(g, tmp_path / "map.html", practitioners_points=gps, subtitle="Corse")
    assert path.stat().st_size < 3_000_000
    events = browser.open(path.as_uri())
    assert _problems(events) == []
    assert browser.eval("document.querySelectorAll('path.leaflet-interactive').length") >= 360
