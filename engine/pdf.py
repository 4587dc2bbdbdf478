"""Print a report to PDF: headless Chromium when installed, else WeasyPrint.

The report's print style sheet (A4, one section per page, tables that never overflow) is
written for Chromium's layout; WeasyPrint honours the same ``@page`` and break rules. When
neither is available :func:`print_pdf` raises :class:`PdfUnavailable` saying what to
install, before anything is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from engine.outputs import atomic_path

__all__ = ["PdfUnavailable", "find_chromium", "pdf_engine", "print_pdf"]

#: Executable names of Chromium and Chrome, in the order tried.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Seconds Chromium may take to print one report.
TIMEOUT_S = 120


class PdfUnavailable(RuntimeError):
    """Neither Chromium nor WeasyPrint is available to print the report."""


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable: ``$APL_CHROMIUM``, else the first on the PATH."""
    given = os.environ.get("APL_CHROMIUM")
    if given:
        return given if Path(given).is_file() else shutil.which(given)
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def pdf_engine() -> str:
    """``"chromium"`` or ``"weasyprint"``: what :func:`print_pdf` would use.

    Raises
    ------
    PdfUnavailable
        When neither is available, with what to install.
    """
    if find_chromium():
        return "chromium"
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        raise PdfUnavailable(
            "--pdf needs headless Chromium or WeasyPrint, and neither was found: install "
            "Chromium (Debian/Ubuntu: apt install chromium; or set APL_CHROMIUM to its path) "
            "or WeasyPrint (pip install weasyprint). The HTML report is written either way; "
            "print it from a browser.") from None
    return "weasyprint"


def print_pdf(html: str | os.PathLike[str], pdf: str | os.PathLike[str]) -> Path:
    """Print an HTML file to an A4 PDF, atomically.

    Parameters
    ----------
    html : path-like
        The report (self-contained: no network access is needed or allowed).
    pdf : path-like
        The PDF to write.

    Returns
    -------
    pathlib.Path
        ``pdf``.

    Raises
    ------
    PdfUnavailable
        When neither Chromium nor WeasyPrint is available.
    RuntimeError
        When Chromium fails or times out (its last error line is quoted).

    Examples
    --------
    >>> print_pdf("out/report.html", "out/report.pdf")  # doctest: +SKIP
    PosixPath('out/report.pdf')
    """
    html, pdf = Path(html).resolve(), Path(pdf)
    engine = pdf_engine()
    with atomic_path(pdf) as tmp:
        if engine == "chromium":
            _chromium_print(find_chromium(), html, tmp)
        else:
            import weasyprint

            weasyprint.HTML(filename=str(html)).write_pdf(str(tmp))
    return pdf


def _chromium_print(exe: str, html: Path, out: Path) -> None:
    profile = tempfile.mkdtemp(prefix="apl-print-")
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
            f"--print-to-pdf={out}", html.as_uri()]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Chromium did not print {html.name} within {TIMEOUT_S} s") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
        raise RuntimeError(f"Chromium could not print {html.name} (exit {done.returncode}): "
                           f"{last}")
