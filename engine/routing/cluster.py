"""Dask backend of the router: the same searches spread over a ``dask.distributed`` cluster.

:func:`engine.routing.matrix.travel_times` (and everything built on it, such as
:func:`engine.apl.commune_matrix`) takes ``client=``; this module is what runs behind it.
The CSR graph is sent once to every worker (``client.scatter(..., broadcast=True)``), the
origins are cut into chunks, and each worker runs the same numba kernel as the local
backend on its chunks. The sparse blocks come back and are assembled in origin order, so the
:class:`~engine.routing.matrix.TravelTimeMatrix` is identical, array for array, to the local
one.

Workers need ``apl-engine`` (and numba) importable; nothing is downloaded at run time.
``docs/scaling.md`` explains how to start a cluster and size chunks and worker memory.

Examples
--------
>>> from engine.routing.cluster import connect  # doctest: +SKIP
>>> client = connect("local:2")  # doctest: +SKIP
>>> m = travel_times(net, origins, max_minutes=20, client=client)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from engine import settings
from engine.errors import InputError
from engine.routing.network import RoadNetwork

if TYPE_CHECKING:  # dask is an optional dependency
    from distributed import Client

__all__ = ["check_client", "connect", "disconnect", "route_on_cluster"]


def _require_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("the Dask backend needs dask.distributed: pip install "
                          "'apl-engine[dask]' (or 'dask[distributed]')") from None
    return distributed


def connect(address: str | None = None, **kwargs: Any) -> Client:
    """A ``dask.distributed`` client for ``--scheduler ADDRESS``.

    Parameters
    ----------
    address : str, optional
        ``"tcp://host:8786"`` (a running scheduler, see ``docs/scaling.md``), or
        ``"local"`` / ``"local:N"`` to start a cluster of ``N`` single-threaded worker
        processes on this machine (default: one per core). ``None`` means ``"local"``.
    **kwargs
        Passed to ``LocalCluster`` for a local cluster (e.g. ``memory_limit="4GiB"``),
        to ``Client`` otherwise.

    Returns
    -------
    distributed.Client
        Close it (``client.close()``; for a local cluster also ``client.cluster.close()``)
        or use it as a context manager.

    Examples
    --------
    >>> client = connect("local:2")  # doctest: +SKIP
    >>> client = connect("tcp://10.0.0.5:8786")  # doctest: +SKIP
    """
    distributed = _require_distributed()
    address = "local" if address is None else str(address).strip()
    if address == "local" or address.startswith("local:"):
        n = address.partition(":")[2]
        try:
            n_workers = int(n) if n else _usable_cores()
        except ValueError:
            raise InputError(f"--scheduler {address!r}: expected 'local', 'local:N' or "
                             "tcp://host:port") from None
        if n_workers < 1:
            raise InputError(f"--scheduler {address!r}: need at least one worker")
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True,
            # Loopback and any free port: the dashboard is not exposed to the network, and a
            # second cluster never warns about a busy 8787.
            dashboard_address=kwargs.pop("dashboard_address", "127.0.0.1:0"), **kwargs,
        )
        return distributed.Client(cluster)
    try:
        return distributed.Client(address, **kwargs)
    except OSError as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address!r} ({exc}); start one "
                         "with 'dask scheduler' and pass its tcp://host:port") from None


def disconnect(client: Client) -> None:
    """Close a client from :func:`connect`, and the local cluster it started, if any.

    Parameters
    ----------
    client : distributed.Client
        The client. A remote cluster keeps running (its workers serve other clients).

    Examples
    --------
    >>> client = connect("local:2")  # doctest: +SKIP
    >>> disconnect(client)  # doctest: +SKIP
    """
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None and type(cluster).__name__ == "LocalCluster":
        cluster.close()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _numba_threads_plan(client: Client) -> dict[str, int]:
    """Numba threads per task on each worker, so that a host's cores are not oversubscribed.

    Dask runs ``nthreads`` tasks at once per worker; a host's cores are shared by its
    workers' task slots, and each task gets ``cores // slots`` numba threads (at least 1).
    """
    from distributed.comm import get_address_host

    cores = client.run(_usable_cores)
    slots = client.nthreads()
    per_host: dict[str, int] = {}
    for addr, n in slots.items():
        host = get_address_host(addr)
        per_host[host] = per_host.get(host, 0) + int(n)
    return {addr: max(1, int(cores.get(addr, 1)) // per_host[get_address_host(addr)])
            for addr in slots}


def _route_block(indptr, indices, weights, target_pos, sources, limit, n_targets, threads):
    """Worker side: the local backend's kernel on one chunk of origins."""
    import numba

    from engine.routing._dijkstra import bounded_searches

    if isinstance(threads, dict):
        from distributed import get_worker

        threads = threads.get(get_worker().address, 1)
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    # Minutes from the kernel, with the same unit as the local backend, so the assembled
    # matrix is bit-identical to it and the transfer is one array per field.
    return bounded_searches(indptr, indices, weights, sources, limit, n_targets, target_pos,
                            settings.routing_chunk_size, unit=60.0)


_SCATTERED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def check_client(client) -> None:
    """Raise ``TypeError`` unless ``client`` is a ``dask.distributed`` client."""
    distributed = _require_distributed()
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a dask.distributed Client, got {type(client).__name__}")


def _scattered_graph(client: Client, network: RoadNetwork, reverse: bool, csr) -> list:
    """The network's CSR arrays on every worker, scattered once per (network, client, direction).

    The futures are kept as long as the network lives, so a scenario loop or the
    optimizer routing again on the same network sends nothing but the origins. Futures
    whose data were lost (a worker died, the cluster restarted) are scattered again.
    """
    per_net = _SCATTERED.setdefault(network, {})
    key = (client.id, bool(reverse))
    graph = per_net.get(key)
    if graph is None or any(f.status != "finished" for f in graph):
        graph = client.scatter(list(csr), broadcast=True)
        per_net[key] = graph
    return graph


def route_on_cluster(client: Client, network: RoadNetwork, reverse: bool, csr, target_pos,
                      src, limit: float, n_targets: int, chunk_size: int):
    """The backend of :func:`engine.routing.matrix.travel_times` when a client is given.

    Returns the per-origin counts, the columns and the minutes in origin order, and
    the stats (relaxations, tasks, workers).
    """
    threads: int | dict[str, int] = (int(settings.dask_numba_threads)
                                     if settings.dask_numba_threads is not None
                                     else _numba_threads_plan(client))
    graph = _scattered_graph(client, network, reverse, csr)
    [targets] = client.scatter([target_pos], broadcast=True)
    futures = [
        client.submit(_route_block, *graph, targets, src[lo:lo + chunk_size], limit, n_targets,
                      threads, pure=False)
        for lo in range(0, len(src), chunk_size)
    ]
    blocks = client.gather(futures)
    # Dropping the last references releases the blocks and the destination lookup.
    del futures, targets
    return (np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks]),
            np.concatenate([b[2] for b in blocks]),
            {"relaxations": int(sum(b[3] for b in blocks)), "tasks": len(blocks),
             "workers": len(client.nthreads())})
