"""Killing ``apl forecast`` at random moments never leaves a mixed or partial output folder.

Each round starts a forecast of Corsica into a folder that already holds a complete set,
sends SIGKILL or SIGINT at a random moment (seeded), and checks that the folder holds a
complete set, the previous one or the new one: the same files, and a ``forecast.csv`` that
is one of the two runs'. SIGINT must end with one line and exit 130, never a traceback. A
last complete run must then leave nothing beside the folder (killed runs' staging folders
are cleaned).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROUNDS = 20
ARGS = ["forecast", "--draws", "40", "--no-backtest", "--new", "0", "--quiet"]


def _apl() -> str:
    exe = Path(sys.executable).with_name("apl")
    if exe.is_file():
        return str(exe)
    found = shutil.which("apl")
    if not found:
        pytest.fail("the apl program is not installed (pip install -e .)")
    return found


def _digest(folder: Path) -> tuple[list[str], str]:
    names = sorted(p.name for p in folder.iterdir())
    return names, hashlib.sha256((folder / "forecast.csv").read_bytes()).hexdigest()


def _run(out: Path, seed: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([_apl(), *ARGS, "--seed", str(seed), "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_kills_leave_the_old_or_the_new_complete_set(mirror, tmp_path):
    env = {**os.environ, "APL_DATA_MIRROR": str(mirror)}
    out = tmp_path / "out"
    first = _run(out, 1, env)  # also compiles and caches what later runs load
    assert first.wait(timeout=600) == 0, first.stderr.read()
    names, old = _digest(out)
    reference = tmp_path / "new"
    started = time.perf_counter()
    done = _run(reference, 2, env)
    assert done.wait(timeout=600) == 0, done.stderr.read()
    duration = time.perf_counter() - started
    new_names, new = _digest(reference)
    assert new_names == names and new != old
    rng = random.Random(20261201)
    outcomes = {"old": 0, "new": 0, "killed": 0}
    for k in range(ROUNDS):
        sig = signal.SIGKILL if k % 2 == 0 else signal.SIGINT
        proc = _run(out, 2, env)
        time.sleep(rng.uniform(0.1, 1.05) * duration)
        proc.send_signal(sig)
        code = proc.wait(timeout=600)
        err = proc.stderr.read()
        assert "Traceback" not in err, err
        if sig == signal.SIGINT and code == -signal.SIGINT:
            assert err == ""  # before Python's own handler is in place: silent death
        elif sig == signal.SIGINT and code != 0:
            assert code == 130, (code, err)
            assert len([line for line in err.splitlines() if line.strip()]) == 1, err
        got_names, got = _digest(out)
        assert got_names == names, (k, sig, got_names)
        assert got in (old, new), (k, sig)
        outcomes["old" if got == old else "new"] += 1
        outcomes["killed"] += code != 0
    final = _run(out, 2, env)
    assert final.wait(timeout=600) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "out"], list(tmp_path.iterdir())
    assert _digest(out) == (names, new)
    assert outcomes["killed"] >= ROUNDS // 2, outcomes  # most kills landed mid-run
