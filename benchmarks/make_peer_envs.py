"""Make the Python environments of the peers that need a newer Python (OSRM's bindings).

Run once before the benchmarks (``.ci/run`` does): it installs from PyPI, which the
benchmarks themselves never do. Prints one line per peer; exits 0 even when a peer cannot
be installed, since bench_peers.py then skips it with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import PEER_ENVS, peer_env  # noqa: E402

if __name__ == "__main__":
    for name, requirements in PEER_ENVS.items():
        python, reason = peer_env(name, requirements, create=True)
        print(f"{name}: {python}" if python else f"{name}: unavailable ({reason})")
