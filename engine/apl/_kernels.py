"""numba kernels of the floating-catchment family (private; see :mod:`engine.apl.fca`).

All work on CSR arrays ``(indptr, indices, data)``; the same row-wise kernels serve a
CSC matrix (its transpose) for column sums. Rows are independent, so the loops are
parallel over rows.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from engine.jit import kernel

#: Below this many stored weights the serial kernels win (thread start-up dominates).
PARALLEL_MIN_NNZ = 200_000


def spmv(indptr, indices, data, x):
    """Sparse matrix-vector product, parallel only when the matrix is large."""
    if len(data) >= PARALLEL_MIN_NNZ:
        return _spmv(indptr, indices, data, x)
    return _spmv_serial(indptr, indices, data, x)


def spmm(indptr, indices, data, x):
    """Sparse matrix - dense matrix product, parallel only when the work is large."""
    if len(data) * x.shape[1] >= PARALLEL_MIN_NNZ:
        return _spmm(indptr, indices, data, x)
    return _spmm_serial(indptr, indices, data, x)


def ratio(supply, demand):
    """``supply / demand`` per supply location, 0 where no demand is in reach (1-D or 2-D)."""
    supply = np.ascontiguousarray(supply, dtype=np.float64)
    demand = np.ascontiguousarray(demand, dtype=np.float64)
    if supply.ndim == 1:
        return _ratio(supply, demand)
    return _ratio_2d(supply, demand)


def row_normalise(indptr, data, mask_cols, indices):
    """Each CSR row divided by its sum over the columns where ``mask_cols`` is true."""
    return _row_normalise(np.asarray(indptr, dtype=np.int64), np.asarray(data, dtype=np.float64),
                          np.asarray(mask_cols, dtype=np.bool_),
                          np.asarray(indices, dtype=np.int64))


def nnls_normal(q, c, x0=None, *, tol: float = 1e-10, max_sweeps: int = 100_000):
    """Solve ``min 0.5 x'Qx - c'x`` over ``x >= 0`` (a least squares ``|Mx - y|`` given by
    its normal equations ``Q = M'M``, ``c = M'y``) by cyclic coordinate descent.

    Parameters
    ----------
    q : scipy.sparse matrix
        Symmetric positive semi-definite ``Q`` (CSR or convertible).
    c : array-like
        ``c``.
    x0 : array-like, optional
        Starting point (non-negative), e.g. the solution for a neighbouring problem.
    tol : float
        Stop when no coordinate moves by more than ``tol`` in the metric of ``Q``
        (``|dx_k| sqrt(Q_kk)``) during a sweep.
    max_sweeps : int
        Upper bound on the sweeps.

    Returns
    -------
    x : numpy.ndarray
    sweeps : int
    """
    import scipy.sparse as sp

    q = sp.csr_matrix(q, dtype=np.float64)
    q.sum_duplicates()
    c = np.ascontiguousarray(c, dtype=np.float64)
    x = np.zeros(len(c)) if x0 is None else np.maximum(np.asarray(x0, dtype=np.float64), 0.0)
    return _nnls_cd(q.indptr.astype(np.int64), q.indices.astype(np.int64), q.data,
                    np.ascontiguousarray(q.diagonal()), c, x.copy(), float(tol), int(max_sweeps))


@kernel
def _nnls_cd(indptr, indices, data, diag, c, x, tol, max_sweeps):
    """Cyclic coordinate descent on ``0.5 x'Qx - c'x``, ``x >= 0``; ``Q`` in CSR (symmetric).

    Keeps the gradient ``g = Qx - c`` up to date: moving coordinate ``k`` by ``d`` adds
    ``d * Q[k, :]`` (row ``k`` is column ``k``, by symmetry).
    """
    n = len(c)
    g = -c.copy()
    for k in range(n):
        xk = x[k]
        if xk != 0.0:
            for p in range(indptr[k], indptr[k + 1]):
                g[indices[p]] += data[p] * xk
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        worst = 0.0
        for k in range(n):
            if diag[k] <= 0.0:
                continue
            old = x[k]
            new = old - g[k] / diag[k]
            if new < 0.0:
                new = 0.0
            d = new - old
            if d != 0.0:
                x[k] = new
                for p in range(indptr[k], indptr[k + 1]):
                    g[indices[p]] += data[p] * d
                step = abs(d) * np.sqrt(diag[k])
                if step > worst:
                    worst = step
        if worst < tol:
            break
    return x, sweeps


@kernel
def _spmv_serial(indptr, indices, data, x):
    """Serial twin of :func:`_spmv`."""
    n = len(indptr) - 1
    y = np.zeros(n, dtype=np.float64)
    for r in range(n):
        acc = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            acc += data[k] * x[indices[k]]
        y[r] = acc
    return y


@kernel
def _spmm_serial(indptr, indices, data, x):
    """Serial twin of :func:`_spmm`."""
    n = len(indptr) - 1
    m = x.shape[1]
    y = np.zeros((n, m), dtype=np.float64)
    for r in range(n):
        for k in range(indptr[r], indptr[r + 1]):
            w = data[k]
            c = indices[k]
            for d in range(m):
                y[r, d] += w * x[c, d]
    return y


@kernel(parallel=True)
def _spmv(indptr, indices, data, x):
    """``y[r] = sum_k data[k] * x[indices[k]]`` over row ``r``'s entries."""
    n = len(indptr) - 1
    y = np.zeros(n, dtype=np.float64)
    for r in prange(n):
        acc = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            acc += data[k] * x[indices[k]]
        y[r] = acc
    return y


@kernel(parallel=True)
def _spmm(indptr, indices, data, x):
    """``y[r, :] = sum_k data[k] * x[indices[k], :]`` (``x`` is C-contiguous 2-D)."""
    n = len(indptr) - 1
    m = x.shape[1]
    y = np.zeros((n, m), dtype=np.float64)
    for r in prange(n):
        for k in range(indptr[r], indptr[r + 1]):
            w = data[k]
            c = indices[k]
            for d in range(m):
                y[r, d] += w * x[c, d]
    return y


@kernel
def _ratio(supply, demand):
    """``supply / demand`` where demand > 0, else 0 (supply out of any demand's reach)."""
    out = np.zeros(supply.shape, dtype=np.float64)
    if supply.ndim == 1:
        for j in range(supply.shape[0]):
            if demand[j] > 0.0:
                out[j] = supply[j] / demand[j]
    return out


@kernel
def _ratio_2d(supply, demand):
    """Row-wise :func:`_ratio` for ``supply`` of shape ``(n_supply, n_draws)``."""
    out = np.zeros(supply.shape, dtype=np.float64)
    for j in range(supply.shape[0]):
        d = demand[j]
        if d > 0.0:
            for k in range(supply.shape[1]):
                out[j, k] = supply[j, k] / d
    return out


@kernel(parallel=True)
def _row_normalise(indptr, data, mask_cols, indices):
    """Divide each row's entries by the row sum over columns where ``mask_cols`` is true.

    Entries in masked-out columns get 0; a row with a zero sum stays 0.
    """
    n = len(indptr) - 1
    out = np.zeros(len(data), dtype=np.float64)
    for r in prange(n):
        s = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            if mask_cols[indices[k]]:
                s += data[k]
        if s > 0.0:
            for k in range(indptr[r], indptr[r + 1]):
                if mask_cols[indices[k]]:
                    out[k] = data[k] / s
    return out
