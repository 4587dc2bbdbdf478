"""The structure the code must keep: layers, no cycles, no private imports, no stray parameters.

- ``lint-imports`` (import-linter, contracts in ``pyproject.toml``) checks the layer order,
  that routing knows nothing of the APL, that kernels import nothing, and that no package
  has import cycles between its modules.
- No module imports another module's private name.
- No profession parameter (a BPE code, a zoning threshold) is written in the code outside
  the profession and zoning definitions: they come from ``engine/apl/professions/*.toml``.
"""

from __future__ import annotations

import ast
import io
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("scenarios").rglob("*.py")])

#: Where profession parameters may be written: the definitions themselves.
DEFINITIONS = {ROOT / "engine" / "apl" / "profession.py", ROOT / "engine" / "apl" / "zoning.py"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports")
    assert exe, "import-linter is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "broken" in run.stdout and "0 broken" in run.stdout


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


_THRESHOLD_NUMBERS = {2.5, 4.0}
_THRESHOLD_TEXT = re.compile(r"(?<![\d.,])(2[.,]5|4[.,]0)(?![\d])|D201")


def _stray_parameters(path: Path) -> list[str]:
    text = path.read_text("utf-8")
    docs = _docstring_lines(ast.parse(text))
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        line = tok.start[0]
        if tok.type == tokenize.NUMBER:
            try:
                value = float(tok.string.replace("_", ""))
            except ValueError:
                continue
            if value in _THRESHOLD_NUMBERS and ("." in tok.string or "e" in tok.string.lower()):
                found.append(f"{path.relative_to(ROOT)}:{line}: number {tok.string}")
        elif tok.type in (tokenize.STRING, tokenize.COMMENT) and line not in docs:
            if _THRESHOLD_TEXT.search(tok.string):
                found.append(f"{path.relative_to(ROOT)}:{line}: {tok.string.strip()[:70]}")
    return found


def test_no_profession_parameter_outside_its_definition():
    stray = [hit for path in SOURCES if path not in DEFINITIONS for hit in _stray_parameters(path)]
    assert not stray, "profession parameters written in the code:\n" + "\n".join(stray)


def test_the_literal_scan_sees_what_it_must(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Docs may say 2.5 and D201."""\n\nX = 2.5\nY = "APL < 2,5"\nZ = 4\n'
                   "CODE = 'D201'  # a comment on 4.0\n")
    hits = [h.split(": ", 1)[1] for h in _stray_parameters_at(bad)]
    assert hits == ["number 2.5", '"APL < 2,5"', "'D201'", "# a comment on 4.0"]


def _stray_parameters_at(path: Path) -> list[str]:
    global ROOT
    old, ROOT = ROOT, path.parent
    try:
        return _stray_parameters(path)
    finally:
        ROOT = old


def _private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    me = _module_name(path)
    hits = []
    module_aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if not base.startswith(("engine", "scenarios")):
                continue
            for alias in node.names:
                name = alias.name
                target = f"{base}.{name}"
                if name.startswith("_") and not name.startswith("__"):
                    hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {base} import {name}")
                module_aliases[alias.asname or name] = target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(("engine", "scenarios")):
                    module_aliases[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in module_aliases and node.attr.startswith("_") \
                and not node.attr.startswith("__") and module_aliases[node.value.id] != me:
            hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    return hits


def test_no_module_imports_another_modules_private_name():
    hits = [h for path in SOURCES for h in _private_imports(path)]
    assert not hits, "private names used across modules:\n" + "\n".join(hits)


@pytest.mark.parametrize("module", ["engine", "engine.apl", "engine.routing", "scenarios"])
def test_packages_import_in_a_fresh_process(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT)


TEST_PROFESSION = ROOT / "tests" / "data" / "test_profession.toml"


def test_a_second_profession_defined_only_in_a_file(mirror, tmp_path):
    """A profession the code has never heard of (its own BPE code, bounds, decay, thresholds,
    classes), defined only in tests/data, runs end to end through ``apl compute``."""
    import numpy as np
    import pandas as pd

    from engine.apl import apl_communes, profession
    from engine.cli import main
    from engine.mirror import read_bpe, region_inputs
    from engine.routing.loaders import load_network

    prof = profession(TEST_PROFESSION)
    assert prof.source == TEST_PROFESSION and prof.bpe_codes == ("D232",)
    out = tmp_path / "out"
    code = main(["compute", "--profession", str(TEST_PROFESSION), "--no-isochrones", "--quiet",
                 "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "communes.csv", dtype={"code_commune": str})
    assert set(table["classe"]) <= set(prof.zoning.codes) and len(set(table["classe"])) >= 2
    bpe = read_bpe(mirror / "insee" / "bpe2019_sante_par_commune.csv", profession=prof)
    n_corse = int(bpe.loc[bpe["code_commune"].str[:2].isin(["2A", "2B"]), "count"].sum())
    assert int(table["practitioners"].sum()) == n_corse > 335
    # Its own rules: demand is the total population, the default activity 1,500, the 16-minute decay.
    communes, nurses, official = region_inputs("corse", mirror, 2022, profession=prof)
    assert official is None and "pop_standardisee" not in communes
    direct = apl_communes(load_network(mirror / "osm" / "corse-drive.graphml.gz"), communes,
                          nurses, profession=prof)
    assert np.array_equal(table["apl"].to_numpy(), direct["apl"].to_numpy())
    np.testing.assert_allclose(direct["supply"].sum(), 1500.0 * n_corse)
    html = (out / "report.html").read_text("utf-8")
    assert "infirmiers (profession de test)" in html and "Très sous-dotée" in html
    assert "médecins généralistes" not in html
