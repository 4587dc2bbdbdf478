"""What a user waits for around the kernels: ``apl --help`` and a warm ``apl compute``.

Each is run as the user runs it, in a fresh process, and timed against the interpreter's own
start-up (``python -c pass``) in the same run: the ratio says how much the engine adds.
The targets of issue 17: ``apl --help`` <= 0.3 s, a warm ``apl compute --region corse
--no-isochrones`` <= 1.2 s wall. The machine sets ``PYTHONDONTWRITEBYTECODE=1``, so the
project's modules are compiled to bytecode at every run; the compute case is timed both ways.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _harness import best_of, quick_mode, record

HELP_TARGET_S = 0.3
COMPUTE_TARGET_S = 1.2


def _apl() -> str:
    exe = Path(sys.executable).with_name("apl")
    return str(exe) if exe.is_file() else (shutil.which("apl") or "apl")


def _timed(args: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def test_help(benchmark, request):
    rounds = 3 if quick_mode(request.config) else 10
    env = dict(os.environ)
    peer_s, _ = best_of(lambda: _timed([sys.executable, "-c", "pass"], env), rounds)
    engine_s = 0.0

    def run():
        nonlocal engine_s
        engine_s, _ = best_of(lambda: _timed([_apl(), "--help"], env), rounds)

    benchmark.pedantic(run, rounds=1, iterations=1)
    record(benchmark, case="apl --help (fresh process)", peer="python -c pass",
           engine_s=engine_s, peer_s=peer_s, target=None,
           note=f"{engine_s:.3f} s (target <= {HELP_TARGET_S:g} s "
                f"{'met' if engine_s <= HELP_TARGET_S else 'MISSED'})")


def test_warm_compute(benchmark, request, tmp_path, corse):
    rounds = 2 if quick_mode(request.config) else 5
    out = tmp_path / "out"
    env = dict(os.environ)
    args = [_apl(), "compute", "--no-isochrones", "--quiet", "--out", str(out)]
    _timed(args, env)  # warms numba's cache, the region bundle and the calibration
    peer_s, _ = best_of(lambda: _timed([sys.executable, "-c", "pass"], env), rounds)
    times = {}

    def run():
        for label, flag in (("no bytecode", "1"), ("bytecode kept", "")):
            e = {**env, "PYTHONDONTWRITEBYTECODE": flag} if flag else {
                k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
            times[label], _ = best_of(lambda e=e: _timed(args, e), rounds)

    benchmark.pedantic(run, rounds=1, iterations=1)
    best = min(times.values())
    record(benchmark, case="warm apl compute --region corse --no-isochrones",
           peer="python -c pass", engine_s=best, peer_s=peer_s, target=None, **times,
           note=f"{best:.2f} s (target <= {COMPUTE_TARGET_S:g} s "
                f"{'met' if best <= COMPUTE_TARGET_S else 'MISSED'}); "
                + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
