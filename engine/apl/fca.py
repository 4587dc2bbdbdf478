"""The floating-catchment family: 2SFCA/E2SFCA, 3SFCA, BFCA and spatial availability.

Public functions validate and convert their inputs, then call the numba kernels of
:mod:`engine.apl._kernels`. Times always go from the demand location (row ``i``) to the
supply location (column ``j``). They may be given as

- a :class:`~engine.routing.matrix.TravelTimeMatrix` (absent pairs are unreachable),
- a ``scipy.sparse`` matrix of minutes: absent entries are unreachable, explicit zeros are
  0 minutes (keep them: do not call ``eliminate_zeros()``),
- a dense array of minutes: ``inf`` or ``NaN`` is unreachable.

Notation: ``W_ij = decay(t_ij)``, ``P_i`` demand, ``S_j`` supply. A supply location that no
demand reaches (``sum_i W_ij P_i == 0``) gets a ratio of 0 and an
:class:`UnservedSupplyWarning`. A demand location with no supply location in reach (no
pair with a positive weight) gets ``unreached`` (default 0; ``numpy.nan`` as PySAL
``access`` gives); no other result is ever NaN.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from engine._validate import finite_vector, non_negative_number, unreached_value
from engine.apl._kernels import ratio, row_normalise, spmm, spmv
from engine.apl.decay import as_decay
from engine.apl.profession import profession as as_profession
from engine.errors import InputError
from engine.routing.matrix import TravelTimeMatrix

__all__ = [
    "Catchment",
    "UnservedSupplyWarning",
    "balanced_fca",
    "catchment_weights",
    "fca_from_weights",
    "spatial_availability",
    "three_step_fca",
    "travel_minutes",
    "two_step_fca",
]


#: The decay of the default profession (general practitioners, DREES): under 10 min 1,
#: 10 to 15 min 2/3, 15 to 20 min 1/3, 20 min or more 0; read from its definition file.
DREES_DECAY = as_profession("gp").decay


class UnservedSupplyWarning(UserWarning):
    """Supply located where no demand is in reach: it is counted for nobody (ratio 0)."""


# --------------------------------------------------------------------------- conversions


def travel_minutes(times) -> sp.csr_matrix:
    """Travel times as a validated CSR matrix of minutes, only reachable pairs stored.

    Parameters
    ----------
    times : TravelTimeMatrix, scipy.sparse matrix or array-like
        See the module notes for how unreachable pairs are encoded.

    Returns
    -------
    scipy.sparse.csr_matrix
        Sorted indices; explicit zeros (0 minutes) kept.

    Raises
    ------
    InputError
        On a matrix that is not 2-D or on a negative time.

    Examples
    --------
    >>> import numpy as np
    >>> travel_minutes(np.array([[0.0, np.inf], [5.0, 2.0]])).nnz
    3
    """
    if isinstance(times, TravelTimeMatrix):
        m = times.to_scipy()
    elif sp.issparse(times):
        m = sp.csr_matrix(times, dtype=np.float64, copy=True)
        if m.ndim != 2:
            raise InputError(f"times must be 2-D (demand x supply), got shape {m.shape}")
        m.sum_duplicates()
        ok = np.isfinite(m.data)
        if not ok.all():
            m.data[~ok] = 0.0
            m = _drop(m, ok)
    else:
        arr = np.asarray(times, dtype=np.float64)
        if arr.ndim != 2:
            raise InputError(f"times must be a 2-D array (demand x supply), got shape {arr.shape}")
        rows, cols = np.nonzero(np.isfinite(arr))
        m = sp.csr_matrix((arr[rows, cols], (rows, cols)), shape=arr.shape)
    if m.nnz and m.data.min() < 0:
        k = int(np.argmin(m.data))
        r = int(np.searchsorted(m.indptr, k, side="right") - 1)
        raise InputError(f"negative travel time {m.data[k]!r} minutes from demand {r} to supply "
                         f"{int(m.indices[k])}", row=r, column=str(int(m.indices[k])))
    m.sort_indices()
    return m


def _drop(m: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """Keep only the stored entries flagged in ``keep`` (zeros included)."""
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    out = sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)
    out.sort_indices()
    return out


def catchment_weights(times, decay=DREES_DECAY) -> sp.csr_matrix:
    """Decay weights of every demand-supply pair, as a sparse matrix.

    Parameters
    ----------
    times : TravelTimeMatrix, scipy.sparse matrix or array-like
        Minutes from demand locations (rows) to supply locations (columns); see the module
        notes for how unreachable pairs are encoded.
    decay : Decay or callable
        Minutes to weights (default :data:`~engine.apl.decay.DREES_DECAY`).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``W_ij = decay(t_ij)``, rows demand, columns supply; zero weights are not stored.

    Raises
    ------
    InputError
        On negative times, or a decay giving negative or non-finite weights.

    Examples
    --------
    >>> import numpy as np
    >>> w = catchment_weights(np.array([[0.0, 12.0], [25.0, np.inf]]))
    >>> w.toarray().round(3)
    array([[1.   , 0.667],
           [0.   , 0.   ]])
    """
    m = travel_minutes(times)
    dec = as_decay(decay)
    w = dec(m.data)
    if w.shape != m.data.shape:
        raise InputError(f"decay returned shape {w.shape} for {m.data.shape} times; it must be "
                         "vectorised (minutes array -> weights array)")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"decay {dec!r} gave weight {w[k]!r} at {m.data[k]!r} minutes; weights "
                         "must be finite and non-negative")
    out = sp.csr_matrix((w, m.indices, m.indptr), shape=m.shape)
    keep = w > 0
    if not keep.all():
        out = _drop(out, keep)
    out.sort_indices()
    return out


def as_amounts(values, n: int | None, name: str, *, allow_2d: bool = False) -> np.ndarray:
    """Demand (``name="demand"``, one per matrix row) or supply (one per column), validated."""
    follows = "the matrix rows" if name == "demand" else "the matrix columns"
    return finite_vector(values, name, size=n, non_negative=True, allow_2d=allow_2d,
                         what=f"{name} must follow {follows}")


def _warn_unserved(cols: np.ndarray, what: str = "supply") -> None:
    if len(cols):
        head = ", ".join(str(int(c)) for c in cols[:10])
        warnings.warn(
            f"{len(cols)} {what} location(s) with positive supply have no demand in reach "
            f"(columns {head}{', ...' if len(cols) > 10 else ''}): their ratio is set to 0 and "
            "their supply is counted for nobody",
            UnservedSupplyWarning, stacklevel=3,
        )


_NORMALISE_OVER = ("positive_supply", "all")


def _check_convention(normalise_over: str, unreached) -> float:
    if normalise_over not in _NORMALISE_OVER:
        raise InputError(f"normalise_over must be one of {_NORMALISE_OVER}, got {normalise_over!r}")
    return unreached_value(unreached)


def fill_unreached(values: np.ndarray, weights: sp.csr_matrix, unreached: float) -> np.ndarray:
    """Give ``unreached`` to the rows with no positive weight (no location in reach)."""
    if unreached == 0.0:
        return values
    empty = np.diff(weights.indptr) == 0
    if empty.any():
        values = np.array(values, dtype=np.float64)
        values[empty] = unreached
    return values


def _by_column(measure, supply: np.ndarray) -> np.ndarray:
    """Apply a one-supply ``measure(s)`` to each column of a 2-D supply (one per type)."""
    if supply.ndim == 1:
        return measure(supply)
    return np.column_stack([measure(np.ascontiguousarray(supply[:, k]))
                            for k in range(supply.shape[1])])


# --------------------------------------------------------------------------- prepared 2SFCA


class Catchment:
    """A weight matrix and a demand, prepared once for many supply scenarios (2SFCA).

    Precomputes the demand in reach of each supply location ``D_j = sum_i W_ij P_i``, so
    that each call costs two sparse products: ``R_j = S_j / D_j`` then
    ``A_i = sum_j W_ij R_j``.

    Parameters
    ----------
    weights : scipy.sparse matrix
        Decay weights, rows demand, columns supply (see :func:`catchment_weights`).
    demand : array-like of shape (n_demand,)
        Demand of each row (standardised population for the APL).

    Attributes
    ----------
    demand_in_reach : numpy.ndarray of shape (n_supply,)
        ``D_j``.
    unreached : numpy.ndarray
        Supply columns with ``D_j == 0``.

    Examples
    --------
    >>> import numpy as np
    >>> c = Catchment(catchment_weights(np.array([[0.0, 12.0], [12.0, 0.0]])), [100.0, 50.0])
    >>> c.accessibility(np.array([3600.0, 0.0])).round(3)
    array([27., 18.])
    """

    def __init__(self, weights, demand):
        w = sp.csr_matrix(weights, dtype=np.float64)
        w.sort_indices()
        if w.nnz and (not np.all(np.isfinite(w.data)) or w.data.min() < 0):
            raise InputError("weights must be finite and non-negative")
        self.weights = w
        self.shape = w.shape
        self.demand = as_amounts(demand, w.shape[0], "demand")
        wt = w.T.tocsr()
        wt.sort_indices()
        self._csr = (w.indptr.astype(np.int64), w.indices.astype(np.int64), w.data)
        self._csc = (wt.indptr.astype(np.int64), wt.indices.astype(np.int64), wt.data)
        self.demand_in_reach = spmv(*self._csc, self.demand)
        self.unreached = np.flatnonzero(self.demand_in_reach <= 0)

    def ratios(self, supply, *, warn: bool = True) -> np.ndarray:
        """Supply-to-demand ratios ``R_j`` (0 where no demand is in reach).

        Parameters
        ----------
        supply : array-like of shape (n_supply,) or (n_supply, n_draws)
        warn : bool
            Emit an :class:`UnservedSupplyWarning` for positive supply with no demand.

        Returns
        -------
        numpy.ndarray
            Same shape as ``supply``.
        """
        s = as_amounts(supply, self.shape[1], "supply", allow_2d=True)
        if warn and len(self.unreached):
            s_un = s[self.unreached]
            lost = self.unreached[(s_un > 0) if s.ndim == 1 else (s_un > 0).any(axis=1)]
            _warn_unserved(lost)
        return ratio(s, self.demand_in_reach)

    def accessibility(self, supply, *, warn: bool = True) -> np.ndarray:
        """2SFCA accessibility ``A_i = sum_j W_ij S_j / D_j``.

        Parameters
        ----------
        supply : array-like of shape (n_supply,) or (n_supply, n_draws)
        warn : bool
            See :meth:`ratios`.

        Returns
        -------
        numpy.ndarray of shape (n_demand,) or (n_demand, n_draws)
        """
        return self.spread(self.ratios(supply, warn=warn))

    def spread(self, ratios) -> np.ndarray:
        """Spread supply-to-demand ratios over the demand: ``A_i = sum_j W_ij R_j``.

        Parameters
        ----------
        ratios : numpy.ndarray of shape (n_supply,) or (n_supply, n_draws)
            ``R_j``, as :meth:`ratios` gives them.

        Returns
        -------
        numpy.ndarray of shape (n_demand,) or (n_demand, n_draws)
        """
        r = np.asarray(ratios, dtype=np.float64)
        if r.ndim == 1:
            return spmv(*self._csr, r)
        return spmm(*self._csr, np.ascontiguousarray(r))

    __call__ = accessibility


def fca_from_weights(weights, demand, supply, *, warn: bool = True) -> np.ndarray:
    """2SFCA from a precomputed weight matrix.

    The demand side (``D_j = sum_i W_ij P_i``) is computed on every call; for many supply
    vectors on one matrix, build a :class:`Catchment` once and pass it as ``weights`` (each
    call then costs two sparse products). Nothing is cached behind the caller's back.

    Parameters
    ----------
    weights : scipy.sparse matrix or Catchment
        Decay weights, rows demand, columns supply (see :func:`catchment_weights`).
    demand : array-like of shape (n_demand,)
        Demand per row (ignored when ``weights`` is a :class:`Catchment`).
    supply : array-like of shape (n_supply,) or (n_supply, n_draws)
        Supply per column; 2-D for several scenarios (draws) at once.
    warn : bool
        Warn about positive supply with no demand in reach (its ratio is 0).

    Returns
    -------
    numpy.ndarray of shape (n_demand,) or (n_demand, n_draws)
        ``A_i = sum_j W_ij R_j`` with ``R_j = S_j / sum_i W_ij P_i``.

    Examples
    --------
    >>> import numpy as np
    >>> w = catchment_weights(np.array([[0.0, 12.0], [12.0, 0.0]]))
    >>> fca_from_weights(w, [100.0, 50.0], np.array([[3600.0, 0.0], [0.0, 3600.0]])).round(2)
    array([[27.  , 20.57],
           [18.  , 30.86]])
    """
    if isinstance(weights, Catchment):
        return weights.accessibility(supply, warn=warn)
    return Catchment(weights, demand).accessibility(supply, warn=warn)


# --------------------------------------------------------------------------- measures


def two_step_fca(demand, supply, times, decay=DREES_DECAY, *, unreached: float = 0.0) -> np.ndarray:
    """Two-step floating catchment area (2SFCA; E2SFCA with a stepped decay).

    ``R_j = S_j / sum_i W_ij P_i`` then ``A_i = sum_j W_ij R_j`` (Luo and Wang 2003; Luo
    and Qi 2009). With :data:`~engine.apl.decay.DREES_DECAY`, supply in consultations and
    demand in standardised population, this is the DREES APL.

    Parameters
    ----------
    demand : array-like of shape (n_demand,)
        Demand at each row location.
    supply : array-like of shape (n_supply,) or (n_supply, n_draws)
        Supply at each column location.
    times : TravelTimeMatrix, scipy.sparse matrix or array-like of shape (n_demand, n_supply)
        Minutes from demand to supply locations.
    decay : Decay or callable
        Distance decay (default: the DREES steps).
    unreached : float
        Value of a demand location with no supply location in reach: 0.0 (default, as
        IPEA's ``accessibility``) or ``numpy.nan`` (as PySAL ``access``).

    Returns
    -------
    numpy.ndarray of shape (n_demand,) or (n_demand, n_draws)
        Accessibility of each demand location.

    Warns
    -----
    UnservedSupplyWarning
        When positive supply has no demand in reach (its ratio is 0).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 12.0], [12.0, 0.0]])
    >>> two_step_fca([100.0, 50.0], [3600.0, 0.0], t).round(3)
    array([27., 18.])
    """
    fill = unreached_value(unreached)
    w = catchment_weights(times, decay)
    return fill_unreached(Catchment(w, demand).accessibility(supply), w, fill)


def three_step_fca(demand, supply, times, decay=DREES_DECAY, *,
                   normalise_over: str = "positive_supply", selection_decay=None,
                   unreached: float = 0.0) -> np.ndarray:
    """Three-step floating catchment area (3SFCA, Wan, Zou and Sternberg 2012).

    Selection weights ``G_ij = V_ij / sum_k V_ik`` share each demand location among the
    supply locations it reaches, with ``V = selection_decay(t)`` (default ``W``); then
    ``R_j = S_j / sum_i G_ij W_ij P_i`` and ``A_i = sum_j G_ij W_ij R_j``.

    Parameters
    ----------
    demand : array-like of shape (n_demand,)
    supply : array-like of shape (n_supply,) or (n_supply, n_types)
        One column per supply type (each computed on its own, as PySAL does).
    times : TravelTimeMatrix, scipy.sparse matrix or array-like
        Minutes from demand (rows) to supply (columns).
    decay : Decay or callable
        Distance decay (Wan et al. used a Gaussian; default the DREES steps).
    normalise_over : {"positive_supply", "all"}
        Supply locations the selection weights sum over. ``"positive_supply"`` (default,
        Wan et al.): only those with positive supply, so a location without supply draws
        nobody. ``"all"``: every location in reach, supply or not (PySAL ``access``).
    selection_decay : Decay or callable, optional
        Decay of the selection weights, if not ``decay``. PySAL normalises its selection
        weights with ``weight_fn`` over every pair of its cost table, also beyond
        ``max_cost``: pass ``decay`` cut at ``max_cost`` and ``selection_decay=weight_fn``
        with ``normalise_over="all"`` to reproduce it.
    unreached : float
        Value of a demand location with no supply location in reach (0.0, or
        ``numpy.nan`` as PySAL).

    Returns
    -------
    numpy.ndarray of shape (n_demand,) or (n_demand, n_types)

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 12.0], [12.0, 0.0]])
    >>> three_step_fca([100.0, 50.0], [3600.0, 3600.0], t).round(2)
    array([46.4 , 51.21])
    """
    fill = _check_convention(normalise_over, unreached)
    w = catchment_weights(times, decay)
    s = as_amounts(supply, w.shape[1], "supply", allow_2d=True)
    ip, ix = w.indptr.astype(np.int64), w.indices.astype(np.int64)
    v = None if selection_decay is None else catchment_weights(times, selection_decay)

    def one(sj: np.ndarray) -> np.ndarray:
        mask = sj > 0 if normalise_over == "positive_supply" else np.ones(w.shape[1], np.bool_)
        if v is None:
            gw = sp.csr_matrix((row_normalise(ip, w.data, mask, ix) * w.data, w.indices,
                                w.indptr), shape=w.shape)
        else:
            # Selection weights on their own decay, then restricted to W's pairs.
            vm = v @ sp.diags(mask.astype(np.float64))
            vsum = np.asarray(vm.sum(axis=1)).ravel()
            inv = np.divide(1.0, vsum, out=np.zeros_like(vsum), where=vsum > 0)
            gw = sp.csr_matrix((sp.diags(inv) @ vm).multiply(w))
            gw.sort_indices()
        return Catchment(gw, demand).accessibility(sj)

    return fill_unreached(_by_column(one, s), w, fill)


def balanced_fca(demand, supply, times, decay=DREES_DECAY, *, step2_weights: str = "demand",
                 normalise_over: str = "positive_supply", unreached: float = 0.0) -> np.ndarray:
    """Balanced floating catchment area (BFCA, Paez, Higgins and Vivona 2019).

    Demand is shared among the supply locations in reach with row-balanced weights
    ``Wr_ij = W_ij / sum_k W_ik``, so nobody is counted twice:
    ``R_j = S_j / sum_i Wr_ij P_i``. Step 2 uses the same weights by default,
    ``A_i = sum_j Wr_ij R_j``, which conserves total supply:
    ``sum_i P_i A_i = sum_j S_j`` (over supply with demand in reach).

    Parameters
    ----------
    demand : array-like of shape (n_demand,)
    supply : array-like of shape (n_supply,) or (n_supply, n_types)
        One column per supply type.
    times : TravelTimeMatrix, scipy.sparse matrix or array-like
        Minutes from demand (rows) to supply (columns).
    decay : Decay or callable
        Distance decay.
    step2_weights : {"demand", "supply"}
        ``"supply"`` uses column-balanced weights ``Wc_ij = W_ij / sum_k W_kj`` (over every
        demand location in reach) in step 2; that variant conserves
        ``sum_i A_i = sum_j R_j`` instead of the total supply.
    normalise_over : {"positive_supply", "all"}
        Supply locations the row balance ``sum_k W_ik`` runs over: only those with positive
        supply (default: demand is not shared with places that offer nothing), or all
        locations in reach.
    unreached : float
        Value of a demand location with no supply location in reach (0.0, or
        ``numpy.nan``).

    Returns
    -------
    numpy.ndarray of shape (n_demand,) or (n_demand, n_types)

    Notes
    -----
    IPEA's R package ``accessibility`` (``floating_catchment_area(method = "bfca")``)
    balances rows over every destination of its travel matrix and uses column-balanced
    weights in step 2: ``step2_weights="supply", normalise_over="all"`` reproduces it (to
    1e-9 on IPEA's own 898-hexagon data, see ``tests/test_measures_peers.py``). The
    defaults differ from it wherever destinations have no supply.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 12.0], [12.0, 0.0]])
    >>> a = balanced_fca([100.0, 50.0], [3600.0, 3600.0], t)
    >>> round(float(a @ [100.0, 50.0]), 6)
    7200.0
    """
    if step2_weights not in ("demand", "supply"):
        raise InputError(f"step2_weights must be 'demand' or 'supply', got {step2_weights!r}")
    fill = _check_convention(normalise_over, unreached)
    w = catchment_weights(times, decay)
    s = as_amounts(supply, w.shape[1], "supply", allow_2d=True)
    p = as_amounts(demand, w.shape[0], "demand")
    ip, ix = w.indptr.astype(np.int64), w.indices.astype(np.int64)
    wc_data = None
    if step2_weights == "supply":
        # Column sums accumulate row by row, as a row sum of the transpose would: same bits.
        col = np.bincount(w.indices, weights=w.data, minlength=w.shape[1])
        wc_data = w.data / col[w.indices]

    def one(sj: np.ndarray) -> np.ndarray:
        mask = sj > 0 if normalise_over == "positive_supply" else np.ones(w.shape[1], np.bool_)
        wr_data = row_normalise(ip, w.data, mask, ix)
        r = Catchment(sp.csr_matrix((wr_data, w.indices, w.indptr), shape=w.shape), p).ratios(sj)
        return spmv(ip, ix, wr_data if wc_data is None else wc_data, r)

    return fill_unreached(_by_column(one, s), w, fill)


def spatial_availability(demand, supply, times, decay=DREES_DECAY, *, alpha: float = 1.0,
                         per_capita: bool = False, unreached: float = 0.0) -> np.ndarray:
    """Spatial availability (Soukhov, Paez, Higgins and Mohamed 2023).

    Each supply ``S_j`` is allocated to the demand locations in proportion to
    ``P_i**alpha * W_ij``: ``V_i = sum_j S_j P_i^a W_ij / sum_k P_k^a W_kj``. The
    allocation is singly constrained, so ``sum_i V_i = sum_j S_j`` (over supply with
    demand in reach).

    Parameters
    ----------
    demand : array-like of shape (n_demand,)
    supply : array-like of shape (n_supply,) or (n_supply, n_draws)
    times : TravelTimeMatrix, scipy.sparse matrix or array-like
        Minutes from demand (rows) to supply (columns).
    decay : Decay or callable
        Distance decay.
    alpha : float
        Exponent of the population balancing factor (1 in the paper's main results).
    per_capita : bool
        Return ``V_i / P_i`` (0 where ``P_i`` is 0) instead of ``V_i``.
    unreached : float
        Value of a demand location with no supply location in reach (0.0, or
        ``numpy.nan``).

    Returns
    -------
    numpy.ndarray
        Supply available at each demand location (or per unit of demand).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0, 12.0], [12.0, 0.0]])
    >>> round(float(spatial_availability([100.0, 50.0], [3600.0, 3600.0], t).sum()), 6)
    7200.0
    """
    fill = unreached_value(unreached)
    p = as_amounts(demand, None, "demand")
    alpha = non_negative_number(alpha, "alpha")
    pa = np.where(p > 0, p ** alpha, 0.0) if alpha > 0 else np.ones_like(p)
    w = catchment_weights(times, decay)
    cat = Catchment(w, pa)
    a = cat.accessibility(supply)
    v = a * (pa if a.ndim == 1 else pa[:, None])
    if per_capita:
        pp = p if v.ndim == 1 else p[:, None]
        v = np.divide(v, pp, out=np.zeros_like(v), where=pp > 0)
    return fill_unreached(v, w, fill)
