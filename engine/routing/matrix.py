"""Sparse travel-time matrices between network nodes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine import settings
from engine._validate import minutes_bound, node_indices, positive_int
from engine.errors import InputError
from engine.routing._dijkstra import KERNELS, bounded_searches, nearest_seconds
from engine.routing.network import RoadNetwork


@dataclass(frozen=True, eq=False)
class TravelTimeMatrix:
    """Travel times in minutes from origins (rows) to destinations (columns), sparse.

    Only reached pairs are stored; a zero (origin equal to destination) is a stored entry,
    not a missing one. Row ``i`` holds columns ``indices[indptr[i]:indptr[i + 1]]`` with
    times ``minutes`` at the same positions, in the order the search wrote them: neither
    by column nor by time (see :mod:`engine.routing._dijkstra`); :meth:`transpose` returns
    rows sorted by column.

    Parameters
    ----------
    origins, destinations : numpy.ndarray
        Node indices labelling rows and columns.
    indptr, indices, minutes : numpy.ndarray
        CSR arrays (int64, int32, float64).
    max_minutes : float or None
        The bound used; pairs beyond it are absent.
    reverse : bool
        False: entry ``(i, j)`` is the time from ``origins[i]`` to ``destinations[j]``.
        True: it is the time from ``destinations[j]`` to ``origins[i]``.

    Examples
    --------
    >>> m = travel_times(net, [0, 5], max_minutes=20)  # doctest: +SKIP
    >>> m.to_frame().head()  # doctest: +SKIP
    """

    origins: np.ndarray
    destinations: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    minutes: np.ndarray
    max_minutes: float | None = None
    reverse: bool = False
    stats: dict = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_origins, n_destinations)``."""
        return (len(self.origins), len(self.destinations))

    @property
    def nnz(self) -> int:
        """Number of stored (reached) pairs."""
        return len(self.indices)

    def __repr__(self) -> str:
        bound = "unbounded" if self.max_minutes is None else f"<= {self.max_minutes:g} min"
        return (f"TravelTimeMatrix({self.shape[0]:,} x {self.shape[1]:,}, {self.nnz:,} reached "
                f"pairs, {bound}{', reverse' if self.reverse else ''})")

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Columns reached from row ``i`` and their times in minutes."""
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.indices[lo:hi], self.minutes[lo:hi]

    def to_scipy(self) -> sp.csr_matrix:
        """The matrix as ``scipy.sparse.csr_matrix`` of minutes.

        Zero times are kept as explicit entries; do not call ``eliminate_zeros()`` on the
        result, since an absent entry means *not reached within the bound*.
        """
        return sp.csr_matrix((self.minutes, self.indices, self.indptr), shape=self.shape)

    def to_dense(self, fill: float = np.inf) -> np.ndarray:
        """A dense ``(n_origins, n_destinations)`` array, ``fill`` where not reached."""
        out = np.full(self.shape, fill, dtype=np.float64)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.minutes
        return out

    def to_frame(self) -> pd.DataFrame:
        """Long table of reached pairs: ``origin``, ``destination`` (node indices), ``minutes``.

        For a reverse matrix the times still read from ``origin`` (row label) to
        ``destination`` (column label) reversed, i.e. the trip goes destination → origin.
        """
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        return pd.DataFrame({
            "origin": self.origins[rows],
            "destination": self.destinations[self.indices],
            "minutes": self.minutes,
        })

    def transpose(self) -> TravelTimeMatrix:
        """Swap rows and columns: the same trips, indexed from the other end.

        Returns
        -------
        TravelTimeMatrix
            Rows are the former destinations; ``reverse`` flips so the direction of travel
            is unchanged.
        """
        t = self.to_scipy().T.tocsr()
        t.sort_indices()
        return TravelTimeMatrix(
            origins=self.destinations, destinations=self.origins,
            indptr=t.indptr.astype(np.int64), indices=t.indices.astype(np.int32),
            minutes=t.data.astype(np.float64), max_minutes=self.max_minutes,
            reverse=not self.reverse, stats=dict(self.stats),
        )


def travel_times(
    network: RoadNetwork,
    origins,
    destinations=None,
    *,
    max_minutes: float | None = None,
    reverse: bool = False,
    client=None,
    chunk_size: int = 2000,
) -> TravelTimeMatrix:
    """Shortest travel times from each origin to each destination, bounded and sparse.

    An exact shortest-path search compiled with numba (a bucket queue, pass-through chains
    walked in path order), parallel over origins on ``numba.get_num_threads()`` threads,
    with an early exit at ``max_minutes`` (and once every destination is reached). Times
    equal a textbook Dijkstra on ``network.travel_time_s`` exactly (seconds summed in
    float64 along the path, then divided by 60). With ``reverse=True`` they equal a textbook Dijkstra on the
    reversed graph, which adds the same edge times from the far end of the path: a time
    may then differ from the forward one in the last bit.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    origins : array-like of int
        Node indices of the origins (rows). Duplicates are allowed.
    destinations : array-like of int, optional
        Node indices of the destinations (columns), without duplicates. Default: every
        node, in index order.
    max_minutes : float, optional
        Drop pairs farther apart than this; ``None`` for no bound.
    reverse : bool
        Compute times *from* each destination *to* each origin (search on the reversed
        graph), as needed to reach a doctor when searching from the doctor's side.
    client : distributed.Client, optional
        Run the searches on this Dask cluster instead of this process (see
        :mod:`engine.routing.cluster` and ``docs/scaling.md``). The result is identical, array
        for array. ``None`` (default) computes locally.
    chunk_size : int
        With ``client``: origins per task (500-5,000 keeps scheduling overhead negligible
        while leaving enough tasks to balance the workers). Ignored locally.

    Returns
    -------
    TravelTimeMatrix
        Minutes, rows in ``origins`` order, columns in ``destinations`` order (each row's
        entries in search order). ``stats["relaxations"]`` counts the edges scanned (a
        textbook Dijkstra reaching the same nodes relaxes as many); with ``client``,
        ``stats`` also holds ``tasks`` and ``workers``.

    Raises
    ------
    InputError
        On node indices out of range, duplicated destinations, a negative or NaN bound, or
        a chunk size that is not a positive integer.
    TypeError
        When ``client`` is not a ``dask.distributed`` client.

    Examples
    --------
    >>> m = travel_times(net, [0, 1, 2], max_minutes=20)  # doctest: +SKIP
    >>> m.shape  # doctest: +SKIP
    (3, 31333)
    """
    if client is not None:
        chunk_size = positive_int(chunk_size, "chunk_size")
    max_minutes = minutes_bound(max_minutes)
    n = network.n_nodes
    src = node_indices(origins, n, "origins")
    if destinations is None:
        dst = np.arange(n, dtype=np.int64)
        target_pos = np.arange(n, dtype=np.int32)
    else:
        dst = node_indices(destinations, n, "destinations")
        target_pos = np.full(n, -1, dtype=np.int32)
        target_pos[dst] = np.arange(len(dst), dtype=np.int32)
        if len(np.unique(dst)) != len(dst):
            vals, cnt = np.unique(dst, return_counts=True)
            raise InputError(f"destinations contain duplicates (node {int(vals[cnt > 1][0])}); "
                             "pass each node once and map duplicates yourself")
    if reverse:
        indptr, indices, weights = network.reverse_csr()
    else:
        indptr, indices, weights = network.indptr, network.indices, network.travel_time_s
    limit = np.inf if max_minutes is None else max_minutes * 60.0
    stats: dict = {"relaxations": 0}
    if client is not None:
        # Imported here: dask is an optional dependency, needed only with a client.
        from engine.routing.cluster import check_client, route_on_cluster

        check_client(client)
        stats.update(tasks=0, workers=0)
    if len(src) == 0 or len(dst) == 0:
        return TravelTimeMatrix(src, dst, np.zeros(len(src) + 1, np.int64), np.empty(0, np.int32),
                                np.empty(0), max_minutes, reverse, stats)
    if client is None:
        counts, cols, minutes, relax = bounded_searches(
            indptr, indices, weights, src, limit, len(dst), target_pos,
            settings.routing_chunk_size, unit=60.0)
        stats["relaxations"] = relax
    else:
        counts, cols, minutes, more = route_on_cluster(
            client, network, reverse, (indptr, indices, weights), target_pos, src, limit,
            len(dst), int(chunk_size))
        stats.update(more)
    out_indptr = np.zeros(len(src) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_indptr[1:])
    return TravelTimeMatrix(
        origins=src, destinations=dst, indptr=out_indptr, indices=cols, minutes=minutes,
        max_minutes=max_minutes, reverse=reverse, stats=stats,
    )


def nearest_travel_times(
    network: RoadNetwork,
    sources,
    *,
    max_minutes: float | None = None,
    reverse: bool = False,
) -> np.ndarray:
    """Minutes from the nearest source to every node, in one multi-source search.

    The search starts from every source at once, so its cost is that of one search over
    the area reached, whatever the number of sources (a national map of the time to the
    nearest GP is one pass over the network, not one search per GP). Each time equals the
    minimum over sources of :func:`travel_times` from that source, to the last bit: a
    multi-source Dijkstra adds the same edge times along the same paths, and ``x + w``
    rounds monotonically in ``x``.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    sources : array-like of int
        Node indices of the sources; duplicates are allowed.
    max_minutes : float, optional
        Stop beyond this time; nodes farther from every source get ``inf``.
    reverse : bool
        Times *to* the nearest source (search on the reversed graph): how long a patient
        at each node drives to the nearest doctor.

    Returns
    -------
    numpy.ndarray
        float64 of length ``network.n_nodes``: minutes, 0 at the sources, ``inf`` where
        no source is reached within ``max_minutes`` (or at all).

    Raises
    ------
    InputError
        On node indices out of range or a negative or NaN bound.

    Examples
    --------
    >>> import numpy as np
    >>> from engine.routing.network import RoadNetwork
    >>> net = RoadNetwork.from_edges(np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1]),
    ...                              np.array([60.0, 60.0, 120.0, 120.0]),
    ...                              np.array([1000.0, 1000.0, 2000.0, 2000.0]),
    ...                              np.array([9.0, 9.01, 9.02]), np.array([42.0, 42.0, 42.0]),
    ...                              np.array([10, 11, 12]))
    >>> nearest_travel_times(net, [0, 2])
    array([0., 1., 0.])
    """
    max_minutes = minutes_bound(max_minutes)
    src = node_indices(sources, network.n_nodes, "sources")
    if len(src) == 0:
        return np.full(network.n_nodes, np.inf)
    if reverse:
        indptr, indices, weights = network.reverse_csr()
    else:
        indptr, indices, weights = network.indptr, network.indices, network.travel_time_s
    limit = np.inf if max_minutes is None else max_minutes * 60.0
    return nearest_seconds(indptr, indices, weights, src, limit) / 60.0


# --------------------------------------------------------------------------- compilation


def _routing_kernels() -> list[tuple]:
    """The kernels behind :func:`travel_times` and :func:`nearest_travel_times`, with the one
    signature each is called with. (Streaming a PBF file compiles its own small kernel,
    ~0.1 s, on first use.)"""
    return list(KERNELS.values())


def kernels_cached() -> bool:
    """Whether routing will run without compiling: its kernels are in memory or in numba's cache.

    Cheap (it reads numba's small index files, no compiled code): a command-line front end
    can call it to announce a first, slower run, e.g. ``"compilation des calculs (premier
    lancement uniquement)…"``, only when compilation is about to happen.

    Returns
    -------
    bool
        True when every kernel is compiled in this process or found in numba's on-disk
        cache for this machine, Python, numba and source version; False otherwise,
        including when numba has no writable cache (kernels then compile in every process).

    Examples
    --------
    >>> from engine.routing.matrix import compile_kernels, kernels_cached
    >>> _ = compile_kernels()
    >>> kernels_cached()
    True
    """
    try:
        from numba.core.caching import FunctionCache

        for dispatcher, sig in _routing_kernels():
            if tuple(sig) in dispatcher.overloads:
                continue
            cache = dispatcher._cache
            if not isinstance(cache, FunctionCache):
                return False
            key = cache._index_key(tuple(sig), dispatcher.targetctx.codegen())
            if key not in cache._cache_file._load_index():
                return False
    except Exception:  # numba's cache layout is internal: unknown means "will compile"
        return False
    return True


def compile_kernels() -> float:
    """Compile the routing kernels now, or load them from numba's on-disk cache.

    Routing compiles on first use anyway; calling this first moves the cost (a few seconds
    once per machine, ~0.1 s to load afterwards) to a moment of the caller's choosing.

    Returns
    -------
    float
        Seconds spent.

    Examples
    --------
    >>> from engine.routing.matrix import compile_kernels
    >>> compile_kernels() >= 0
    True
    """
    t0 = time.perf_counter()
    for dispatcher, sig in _routing_kernels():
        dispatcher.compile(tuple(sig))
    return time.perf_counter() - t0
