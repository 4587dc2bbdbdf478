"""The rule for real data, shared by the tests' and the benchmarks' fixtures (not part of the
package): the data mirror is required under CI, optional elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import settings


def required_mirror() -> Path:
    """The data mirror; ``pytest.fail`` under ``CI=true`` when it is missing, else skip."""
    path = settings.data_mirror()
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("data mirror missing under CI: expected ../shared/data beside the repo "
                        "or $APL_DATA_MIRROR")
        pytest.skip("data mirror not available (set APL_DATA_MIRROR)")
    return path
