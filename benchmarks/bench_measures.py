"""The accessibility measures on IPEA's reference data, each against a peer in the same run.

Input: the 898 H3 hexagons of Belo Horizonte and their 748,437 public-transport travel
times that IPEA's R package ``accessibility`` ships (``ipea/`` in the data mirror), with
population and jobs. Peers: PySAL ``access`` for gravity, 2SFCA, 3SFCA and RAAM (same
definitions through the convention options); a plain dense numpy implementation of the
same formula for the others (IPEA's own code is R, not available here). Every result is
asserted equal to the peer's (1e-9), and the ratio peer time / engine time is recorded
with :func:`_harness.record` (no speed target: these measures had none).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _harness import best_of, quick_mode, record

from engine.apl import (
    balanced_fca,
    concentration_index,
    cost_to_closest,
    cumulative,
    cumulative_cutoff,
    cumulative_interval,
    doubly_constrained,
    exponential,
    fgt_poverty,
    gini_index,
    gravity_accessibility,
    palma_ratio,
    raam,
    singly_constrained,
    spatial_availability,
    step,
    theil_t,
    three_step_fca,
    total_constrained,
    two_step_fca,
)

CASE = "IPEA 898 hexagons, 748k pairs"


@pytest.fixture(scope="module")
def ipea(mirror):
    folder = mirror / "ipea"
    if not (folder / "travel_matrix.csv.gz").is_file():
        pytest.fail("the measure benchmarks need IPEA's data in the mirror (ipea/travel_matrix.csv.gz)")
    tm = pd.read_csv(folder / "travel_matrix.csv.gz", dtype={"from_id": str, "to_id": str})
    lu = pd.read_csv(folder / "land_use.csv.gz", dtype={"id": str})
    index = pd.Series(np.arange(len(lu)), index=lu.id)
    rows, cols = index[tm.from_id].to_numpy(), index[tm.to_id].to_numpy()
    minutes = tm.travel_time.to_numpy(float)
    m = sp.csr_matrix((minutes, (rows, cols)), shape=(len(lu), len(lu)))
    dense = np.full(m.shape, np.inf)
    dense[rows, cols] = minutes
    pop, jobs = lu.population.to_numpy(float), lu.jobs.to_numpy(float)
    cost = pd.DataFrame({"origin": rows, "dest": cols, "cost": minutes})
    # compile every kernel once, outside the timings
    small = np.array([[0.0, 5.0], [5.0, 0.0]])
    cumulative_cutoff([1.0, 1.0], small, [5, 10])
    cost_to_closest([1.0, 1.0], small, [1, 2])
    raam([1.0, 1.0], [1.0, 1.0], small)
    doubly_constrained([1.0, 1.0], [1.0, 1.0], small, exponential(0.1))
    two_step_fca([1.0, 1.0], [1.0, 1.0], small)
    return {"m": m, "dense": dense, "pop": pop, "jobs": jobs, "cost": cost, "lu": lu}


def _rounds(request) -> int:
    return 1 if quick_mode(request.config) else 3


def _pysal(d):
    from access import Access

    n = len(d["pop"])
    return Access(demand_df=pd.DataFrame({"geoid": np.arange(n), "pop": d["pop"]}),
                  demand_index="geoid", demand_value="pop",
                  supply_df=pd.DataFrame({"geoid": np.arange(n), "jobs": d["jobs"]}),
                  supply_index="geoid", supply_value="jobs", cost_df=d["cost"].copy(),
                  cost_origin="origin", cost_dest="dest", cost_name="cost")


def _pysal_column(out, n):
    return out.iloc[:, 0].reindex(np.arange(n)).to_numpy()


def _compare(benchmark, request, name, engine_fn, peer_name, peer_fn, *, rtol=1e-9, **info):
    ours = benchmark.pedantic(engine_fn, rounds=_rounds(request), iterations=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer_s, theirs = best_of(peer_fn, _rounds(request))
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-9)
    finite = np.isfinite(b) & (np.abs(b) > 0)
    rel = float(np.max(np.abs(a[finite] - b[finite]) / np.abs(b[finite]))) if finite.any() else 0.0
    record(benchmark, case=f"{name}", peer=peer_name, engine_s=benchmark.stats.stats.min,
           peer_s=peer_s, target=None, data=CASE, max_rel_diff=rel, **info)


# --------------------------------------------------------------------------- PySAL peers


def test_bench_gravity(benchmark, request, ipea):
    from access import weights  # noqa: F401  (PySAL's weight functions are plain callables)

    d = ipea
    f = exponential(0.05)
    _compare(benchmark, request, "gravity, exp(-0.05 t)",
             lambda: gravity_accessibility(d["jobs"], d["m"], f), "access weighted_catchment",
             lambda: _pysal_column(_pysal(d).weighted_catchment(
                 weight_fn=lambda t: np.exp(-0.05 * t)), len(d["pop"])))


def test_bench_two_step(benchmark, request, ipea):
    d = ipea
    _compare(benchmark, request, "2SFCA, 45 min",
             lambda: two_step_fca(d["pop"], d["jobs"], d["m"], cumulative(45)),
             "access two_stage_fca",
             lambda: _pysal_column(_pysal(d).two_stage_fca(max_cost=45), len(d["pop"])))


def test_bench_three_step(benchmark, request, ipea):
    from access import weights

    d = ipea
    steps = step([15, 30, 45, 60], [1, 0.75, 0.5, 0.25], closed="right")
    _compare(benchmark, request, "3SFCA, steps, PySAL convention",
             lambda: three_step_fca(d["pop"], d["jobs"], d["m"], steps, normalise_over="all"),
             "access three_stage_fca",
             lambda: _pysal_column(_pysal(d).three_stage_fca(weight_fn=weights.step_fn(
                 {15: 1, 30: 0.75, 45: 0.5, 60: 0.25})), len(d["pop"])))


def test_bench_raam(benchmark, request, ipea):
    d = ipea
    _compare(benchmark, request, "RAAM, tau 30 min", lambda: raam(d["pop"], d["jobs"], d["m"], tau=30),
             "access raam", lambda: _pysal_column(_pysal(d).raam(tau=30), len(d["pop"])))


# --------------------------------------------------------------------------- numpy peers


def _dense_weights(d, decay):
    w = np.zeros(d["dense"].shape)
    ok = np.isfinite(d["dense"])
    w[ok] = decay(d["dense"][ok])
    return w


def _numpy_bfca_ipea(d, decay):
    w = _dense_weights(d, decay)
    with np.errstate(invalid="ignore", divide="ignore"):
        wi = np.nan_to_num(w / w.sum(axis=1, keepdims=True))
        wj = np.nan_to_num(w / w.sum(axis=0, keepdims=True))
        served = d["pop"] @ wi
        ratio = np.where(served > 0, d["jobs"] / served, 0.0)
    return wj @ ratio


def test_bench_balanced_ipea(benchmark, request, ipea):
    d = ipea
    f = exponential(0.05)
    _compare(benchmark, request, "BFCA, IPEA convention",
             lambda: balanced_fca(d["pop"], d["jobs"], d["m"], f, step2_weights="supply",
                                  normalise_over="all"),
             "numpy dense", lambda: _numpy_bfca_ipea(d, f))


def _numpy_availability(d, decay):
    w = _dense_weights(d, decay) * d["pop"][:, None]
    col = w.sum(axis=0)
    share = np.divide(w, col, out=np.zeros_like(w), where=col > 0)
    return share @ d["jobs"]


def test_bench_spatial_availability(benchmark, request, ipea):
    d = ipea
    f = exponential(0.05)
    _compare(benchmark, request, "spatial availability",
             lambda: spatial_availability(d["pop"], d["jobs"], d["m"], f), "numpy dense",
             lambda: _numpy_availability(d, f))


def test_bench_cumulative(benchmark, request, ipea):
    d = ipea
    cuts = [15, 30, 45, 60]
    _compare(benchmark, request, "cumulative cutoffs 15-60",
             lambda: cumulative_cutoff(d["jobs"], d["m"], cuts), "numpy dense",
             lambda: np.column_stack([(d["dense"] <= c) @ d["jobs"] for c in cuts]))


def test_bench_cumulative_interval(benchmark, request, ipea):
    d = ipea
    _compare(benchmark, request, "cumulative interval 20-40 (median)",
             lambda: cumulative_interval(d["jobs"], d["m"], (20, 40)), "numpy dense",
             lambda: np.median(np.column_stack([(d["dense"] <= c) @ d["jobs"]
                                                for c in range(20, 41)]), axis=1))


def _numpy_closest(d, targets):
    t = np.where(d["jobs"][None, :] > 0, d["dense"], np.inf)
    order = np.argsort(t, axis=1, kind="stable")
    ts = np.take_along_axis(t, order, axis=1)
    cum = np.cumsum(np.where(np.isfinite(ts), d["jobs"][order], 0.0), axis=1)
    out = []
    for n in targets:
        hit = cum >= n if n != 1 else cum > 0
        first = hit.argmax(axis=1)
        out.append(np.where(hit.any(axis=1), ts[np.arange(len(ts)), first], np.inf))
    return np.column_stack(out)


def test_bench_cost_to_closest(benchmark, request, ipea):
    d = ipea
    targets = [1, 1000, 10_000]
    _compare(benchmark, request, "cost to the n-th closest job",
             lambda: cost_to_closest(d["jobs"], d["m"], targets), "numpy dense (argsort)",
             lambda: _numpy_closest(d, targets))


def test_bench_total_and_singly(benchmark, request, ipea):
    d = ipea
    f = exponential(0.05)

    def numpy_peer():
        w = _dense_weights(d, f)
        reached = w @ d["jobs"]
        total = reached * d["jobs"].sum() / reached.sum()
        row = w @ d["jobs"]
        share = np.divide(d["pop"], row, out=np.zeros_like(row), where=row > 0)
        return np.concatenate([total, d["jobs"] * (w.T @ share)])

    _compare(benchmark, request, "total + singly (passive) constrained",
             lambda: np.concatenate([total_constrained(d["jobs"], d["m"], f),
                                     singly_constrained(d["pop"], d["jobs"], d["m"], f,
                                                        active=False)]),
             "numpy dense", numpy_peer)


def test_bench_doubly(benchmark, request, ipea):
    d = ipea
    f = exponential(0.05)
    scaled = d["jobs"] * d["pop"].sum() / d["jobs"].sum()
    kw = {"tol": 1e-3, "improvement_tol": 1e-6, "max_iterations": 1000}

    def numpy_peer():  # IPEA's iteration (R/doubly_constrained.R), without its +1e-9
        w = _dense_weights(d, f)
        o, dd = d["pop"], scaled
        b = np.ones(len(dd))
        previous = np.inf
        for _ in range(kw["max_iterations"]):
            s = w @ (b * dd)
            a = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
            s = (a * o) @ w
            b = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
            t = (a * o)[:, None] * w * (b * dd)[None, :]
            error = (np.abs(o - t.sum(axis=1)).sum() + np.abs(dd - t.sum(axis=0)).sum()) / o.sum()
            if error < kw["tol"] or abs(previous - error) < kw["improvement_tol"]:
                break
            previous = error
        return t.sum(axis=1)

    _compare(benchmark, request, "doubly constrained (IPEA stops)",
             lambda: doubly_constrained(d["pop"], scaled, d["m"], f, **kw).flows.sum(axis=1).A1,
             "numpy dense IPF", numpy_peer, rtol=1e-7)


def test_bench_inequality(benchmark, request, ipea):
    d = ipea
    x = cumulative_cutoff(d["jobs"], d["m"], 30)
    pop = d["pop"]
    income = d["lu"].income_per_capita.to_numpy(float)
    deciles = d["lu"].income_decile.fillna(0).to_numpy()

    def engine():
        return [gini_index(x, pop), palma_ratio(x, pop, income), theil_t(x, pop, deciles).total,
                concentration_index(x, pop, income), *fgt_poverty(x, pop, np.median(x))]

    def pandas_peer():  # IPEA's R logic, as data frames
        t = pd.DataFrame({"x": x, "p": pop, "y": income, "g": deciles})
        s = t.sort_values("x", kind="stable")
        share = s.p / s.p.sum()
        lorenz = (s.p * s.x).cumsum() / (s.p * s.x).sum()
        gini = 1 - 2 * ((lorenz.shift(fill_value=0) + lorenz) * share / 2).sum()
        valid = t[t.y.notna() & (t.p > 0)].sort_values("y")
        cum = valid.groupby("y").p.sum().cumsum()
        n = cum.iloc[-1]

        def q(prob):
            order = 1 + (n - 1) * prob
            low, frac = max(np.floor(order), 1), order % 1
            at = [cum.index[min(np.searchsorted(cum.to_numpy(), pos), len(cum) - 1)]
                  for pos in (low, min(low + 1, n))]
            return (1 - frac) * at[0] + frac * at[1]

        poor, rich = t[t.y <= q(0.4)], t[t.y > q(0.9)]
        palma = np.average(rich.x, weights=rich.p) / np.average(poor.x, weights=poor.p)
        mu = np.average(t.x, weights=t.p)
        r = t.x / mu
        theil = (t.p * np.where(t.x > 0, r * np.log(np.where(t.x > 0, r, 1)), 0)).sum() / t.p.sum()
        c = t.assign(y=t.y.fillna(-np.inf)).sort_values("y", kind="stable")
        ps = c.p / c.p.sum()
        rank = ps.cumsum() - ps / 2
        ci = 2 * ((rank - 0.5) * (c.x - mu) * ps).sum() / mu
        z = np.median(x)
        gap = np.where(t.x < z, (z - t.x) / z, 0)
        fgt = [np.average((t.x < z) * 1.0, weights=t.p), np.average(gap, weights=t.p),
               np.average(gap ** 2, weights=t.p)]
        return [gini, palma, theil, ci, *fgt]

    _compare(benchmark, request, "5 inequality indices", engine, "pandas (IPEA's logic)",
             pandas_peer, rtol=1e-10)
