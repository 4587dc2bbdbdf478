"""The numba decorator of the engine's kernels: cached on disk, and working without a cache.

:func:`kernel` is ``numba.njit(cache=True, nogil=True)``, except that when numba finds no
writable folder for its cache (a read-only installation with no ``NUMBA_CACHE_DIR``, where
plain ``njit(cache=True)`` fails at import with ``RuntimeError: cannot cache function ...:
no locator available``) the kernel is compiled without a cache, with one
:class:`NumbaCacheWarning` saying so: results are the same, only every new process
compiles again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from numba import njit

__all__ = ["NumbaCacheWarning", "kernel"]


class NumbaCacheWarning(RuntimeWarning):
    """numba cannot write its on-disk cache: kernels compile in every new process."""


_warned = False


def kernel(fn: Callable | None = None, **options):
    """Compile ``fn`` with numba in nopython mode, cached on disk when possible.

    Parameters
    ----------
    fn : callable
        The kernel (pure array code).
    **options
        More ``numba.njit`` options (``parallel``, ``inline``...). ``nogil`` defaults to
        True, ``cache`` to True (set ``cache=False`` to opt out).

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The compiled-on-first-call kernel.

    Warns
    -----
    NumbaCacheWarning
        Once per process, when no cache folder is writable; the kernel then compiles
        without a cache (set ``NUMBA_CACHE_DIR`` to a writable folder to cache it).

    Examples
    --------
    >>> @kernel(cache=False)
    ... def _twice(x):
    ...     return 2 * x
    >>> _twice(21)
    42
    """
    if fn is None:
        return lambda f: kernel(f, **options)
    options.setdefault("nogil", True)
    options.setdefault("cache", True)
    try:
        return njit(**options)(fn)
    except RuntimeError as exc:
        if not options["cache"] or "cannot cache" not in str(exc):
            raise
        global _warned
        if not _warned:
            _warned = True
            warnings.warn(f"numba cannot write its cache ({exc}); the engine's kernels will be "
                          "compiled again in every new process (a few seconds each time). Set "
                          "NUMBA_CACHE_DIR to a writable folder to keep them.", NumbaCacheWarning,
                          stacklevel=2)
        return njit(**{**options, "cache": False})(fn)
