"""Plain, obviously-correct references for every numba kernel (stumpy style).

Slow on purpose: pure Python, no cleverness. Tests compare each kernel with its twin here.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

# --------------------------------------------------------------------------- routing


def dijkstra(indptr, indices, weights, source, limit=math.inf):
    """Textbook Dijkstra with a binary heap; returns ``{node: seconds}`` with seconds <= limit."""
    dist = {int(source): 0.0}
    done = set()
    heap = [(0.0, int(source))]
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        for e in range(indptr[u], indptr[u + 1]):
            v = int(indices[e])
            nd = d + float(weights[e])
            if nd <= limit and nd < dist.get(v, math.inf):
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return {k: v for k, v in dist.items() if k in done}


def travel_time_rows(indptr, indices, weights, sources, limit=math.inf):
    """Dense minutes (inf where unreached) from each source to every node."""
    n = len(indptr) - 1
    out = np.full((len(sources), n), np.inf)
    for i, s in enumerate(sources):
        for node, sec in dijkstra(indptr, indices, weights, s, limit).items():
            out[i, node] = sec / 60.0
    return out


def nearest_times(indptr, indices, weights, sources, limit=math.inf):
    """Minutes from the nearest source to every node: the minimum over one Dijkstra each."""
    rows = travel_time_rows(indptr, indices, weights, sources, limit)
    return rows.min(axis=0) if len(rows) else np.full(len(indptr) - 1, np.inf)


def node_kinds(indptr, indices):
    """Twin of ``_node_kinds``: 0 active, 1 dead end, 2 one-way and 3 two-way pass-through.

    A dead end has one edge out and one in, both with the same neighbour; a one-way
    pass-through node one edge in and one out, with different neighbours; a two-way one
    two edges out and two in, to and from the same two distinct neighbours. Pass-through
    nodes no walk from an active node reaches lie on cycles of pass-through nodes: in
    node order, each such node not reached yet becomes active.
    """
    n = len(indptr) - 1
    outs = [[int(v) for v in indices[indptr[x]:indptr[x + 1]]] for x in range(n)]
    ins = [[] for _ in range(n)]
    for u in range(n):
        for v in outs[u]:
            ins[v].append(u)
    kind = []
    for x in range(n):
        o, i = outs[x], ins[x]
        k = 0
        if len(o) == 1 and len(i) == 1 and o[0] != x:
            if o[0] == i[0]:
                k = 1
            elif i[0] != x:
                k = 2
        elif (len(o) == 2 and len(i) == 2 and o[0] != o[1] and x not in o
              and sorted(o) == sorted(i)):
            k = 3
        kind.append(k)
    reached = set()

    def walk_from(u):
        for x in outs[u]:
            prev = u
            while kind[x] >= 2 and x not in reached:
                reached.add(x)
                nxt = [v for v in outs[x] if v != prev] if kind[x] == 3 else outs[x]
                prev, x = x, nxt[0]

    for u in range(n):
        if kind[u] == 0:
            walk_from(u)
    for u in range(n):
        if kind[u] >= 2 and u not in reached:
            kind[u] = 0
            walk_from(u)
    return np.array(kind, dtype=np.int8)


def chain_steps(indptr, indices, weights, kind):
    """Twin of ``_chain_steps``: every active node's out-edges followed through their chains.

    Returns ``(ptr, times, codes, span)``: node ``u``'s steps are ``ptr[u]:ptr[u + 1]``;
    a step's code is the node reached, ``~node`` for a one-way pass-through node,
    ``~(node | 2**29)`` for a two-way one and ``~(node | 2**30)`` for a dead end ending the
    chain; ``span`` is the largest chain
    time (added in order), over chains from active nodes and dead ends.
    """
    end, two = 1 << 30, 1 << 29
    n = len(indptr) - 1
    ptr, times, codes = [0], [], []
    span = 0.0
    for u in range(n):
        if kind[u] <= 1:
            for e in range(indptr[u], indptr[u + 1]):
                chain = [(float(weights[e]), int(indices[e]))]
                prev, x = u, int(indices[e])
                while kind[x] >= 2:
                    edges = list(range(indptr[x], indptr[x + 1]))
                    f = [g for g in edges if indices[g] != prev][0] if kind[x] == 3 else edges[0]
                    prev, x = x, int(indices[f])
                    chain.append((float(weights[f]), x))
                total = 0.0
                for w, _ in chain:
                    total += w
                span = max(span, total)
                if kind[u] == 0:
                    for w, x in chain:
                        times.append(w)
                        codes.append(x if kind[x] == 0 else ~(x | end) if kind[x] == 1
                                     else ~(x | two) if kind[x] == 3 else ~x)
        ptr.append(len(times))
    return (np.array(ptr, dtype=np.int64), np.array(times, dtype=np.float64),
            np.array(codes, dtype=np.int32), span)


def relaxations(indptr, indices, weights, sources, limit=math.inf):
    """Edges a textbook Dijkstra relaxes from each source in turn: out-edges of settled nodes."""
    total = 0
    for s in sources:
        for node in dijkstra(indptr, indices, weights, s, limit):
            total += int(indptr[node + 1] - indptr[node])
    return total


# --------------------------------------------------------------------------- floating catchment


def _dense_weights(times, decay):
    """Dense decay weights, 0 where the time is inf/NaN (unreachable)."""
    t = np.asarray(times, dtype=float)
    w = np.zeros(t.shape)
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            if math.isfinite(t[i, j]):
                w[i, j] = float(decay(np.array([t[i, j]]))[0])
    return w


def two_step_fca(demand, supply, times, decay):
    """2SFCA with plain loops: R_j = S_j / sum_i W_ij P_i (0 if no demand), A_i = sum_j W_ij R_j."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    ratio = [0.0] * m
    for j in range(m):
        d = sum(w[i, j] * demand[i] for i in range(n))
        ratio[j] = supply[j] / d if d > 0 else 0.0
    return np.array([sum(w[i, j] * ratio[j] for j in range(m)) for i in range(n)])


def three_step_fca(demand, supply, times, decay, normalise_over="positive_supply",
                   selection_decay=None):
    """3SFCA: selection G_ij = V_ij / sum_k V_ik over k with S_k > 0 (Wan et al. 2012) or all k.

    ``V = selection_decay(t)`` (default the decay itself), summed over every reachable pair.
    """
    w = _dense_weights(times, decay)
    v = w if selection_decay is None else _dense_weights(times, selection_decay)
    n, m = w.shape
    use = [normalise_over == "all" or supply[k] > 0 for k in range(m)]
    g = np.zeros((n, m))
    for i in range(n):
        tot = sum(v[i, k] for k in range(m) if use[k])
        for j in range(m):
            if use[j] and tot > 0 and w[i, j] > 0:
                g[i, j] = v[i, j] / tot
    ratio = [0.0] * m
    for j in range(m):
        d = sum(g[i, j] * w[i, j] * demand[i] for i in range(n))
        ratio[j] = supply[j] / d if d > 0 else 0.0
    return np.array([sum(g[i, j] * w[i, j] * ratio[j] for j in range(m)) for i in range(n)])


def balanced_fca(demand, supply, times, decay, step2_weights="demand",
                 normalise_over="positive_supply"):
    """BFCA (Paez et al. 2019), rows balanced over supply sites with S_j > 0 (or all sites)."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    use = [normalise_over == "all" or supply[k] > 0 for k in range(m)]
    wr = np.zeros((n, m))
    for i in range(n):
        tot = sum(w[i, k] for k in range(m) if use[k])
        for j in range(m):
            if use[j] and tot > 0:
                wr[i, j] = w[i, j] / tot
    wc = np.zeros((n, m))
    for j in range(m):
        tot = sum(w[k, j] for k in range(n))
        for i in range(n):
            if tot > 0:
                wc[i, j] = w[i, j] / tot
    ratio = [0.0] * m
    for j in range(m):
        d = sum(wr[i, j] * demand[i] for i in range(n))
        ratio[j] = supply[j] / d if d > 0 else 0.0
    w2 = wr if step2_weights == "demand" else wc
    return np.array([sum(w2[i, j] * ratio[j] for j in range(m)) for i in range(n)])


def spatial_availability(demand, supply, times, decay, alpha=1.0):
    """Spatial availability (Soukhov et al. 2023): V_i = sum_j S_j P_i^a W_ij / sum_k P_k^a W_kj."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    pa = [demand[i] ** alpha if demand[i] > 0 else 0.0 for i in range(n)]
    out = np.zeros(n)
    for j in range(m):
        tot = sum(pa[k] * w[k, j] for k in range(n))
        if tot > 0:
            for i in range(n):
                out[i] += supply[j] * pa[i] * w[i, j] / tot
    return out


# --------------------------------------------------------------------------- other measures


def _oriented(times, active):
    t = np.asarray(times, dtype=float)
    return t if active else t.T


def gravity_accessibility(opportunities, times, decay, active=True):
    """A_i = sum_j W_ij O_j (active) or A_j = sum_i W_ij O_i (passive), with plain loops."""
    w = _dense_weights(_oriented(times, active), decay)
    n, m = w.shape
    return np.array([sum(w[i, j] * opportunities[j] for j in range(m)) for i in range(n)])


def cumulative_cutoff(opportunities, times, cutoff, active=True):
    """Sum of opportunities over reachable pairs with t <= cutoff."""
    t = _oriented(times, active)
    n, m = t.shape
    return np.array([sum(opportunities[j] for j in range(m)
                         if math.isfinite(t[i, j]) and t[i, j] <= cutoff) for i in range(n)])


def cumulative_interval(opportunities, times, lo, hi, increment=1.0, summary="median",
                        active=True, round_down=False):
    """The cumulative measure at lo, lo + increment, ... <= hi, summarised per row."""
    cuts = []
    c = lo
    k = 0
    while c <= hi + 1e-9:
        cuts.append(c)
        k += 1
        c = lo + k * increment
    table = np.column_stack([cumulative_cutoff(opportunities, times, c, active) for c in cuts])
    out = []
    for row in table:
        vals = sorted(row)
        if summary == "median":
            mid = len(vals) // 2
            v = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
        elif summary == "mean":
            v = sum(vals) / len(vals)
        elif summary == "min":
            v = vals[0]
        else:
            v = vals[-1]
        out.append(math.floor(v) if round_down else v)
    return np.array(out, dtype=float)


def cost_to_closest(opportunities, times, n=1, active=True):
    """Least t such that the opportunities within t reach n (n = 1: the nearest positive one)."""
    t = _oriented(times, active)
    out = []
    for i in range(t.shape[0]):
        pairs = sorted((t[i, j], opportunities[j]) for j in range(t.shape[1])
                       if math.isfinite(t[i, j]) and opportunities[j] > 0)
        best = math.inf
        acc = 0.0
        for minutes, o in pairs:
            acc += o
            if (n == 1 and acc > 0) or (n != 1 and acc >= n):
                best = minutes
                break
        out.append(best)
    return np.array(out)


def total_constrained(opportunities, times, decay, active=True):
    """A_i = sum_j O_j W_ij * (sum_j O_j) / (sum_kl O_l W_kl)."""
    w = _dense_weights(_oriented(times, active), decay)
    n, m = w.shape
    reached = [sum(opportunities[j] * w[i, j] for j in range(m)) for i in range(n)]
    system = sum(reached)
    total = sum(opportunities)
    return np.array([r * total / system if system > 0 else 0.0 for r in reached])


def singly_constrained_passive(demand, supply, times, decay):
    """M_j = sum_i P_i S_j W_ij / sum_l S_l W_il (0 where a row reaches no supply)."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    out = np.zeros(m)
    for i in range(n):
        den = sum(supply[k] * w[i, k] for k in range(m))
        if den > 0:
            for j in range(m):
                out[j] += demand[i] * supply[j] * w[i, j] / den
    return out


def doubly_constrained(demand, supply, times, decay, tol, improvement_tol, max_iterations):
    """Furness iterations: A_i then B_j, IPEA's error measure and stopping rules."""
    w = _dense_weights(times, decay)
    n, m = w.shape
    a = [1.0] * n
    b = [1.0] * m
    previous = math.inf
    error = math.inf
    it = 0
    while it < max_iterations:
        it += 1
        for i in range(n):
            s = sum(b[j] * supply[j] * w[i, j] for j in range(m))
            a[i] = 1.0 / s if s > 0 else 0.0
        for j in range(m):
            s = sum(a[i] * demand[i] * w[i, j] for i in range(n))
            b[j] = 1.0 / s if s > 0 else 0.0
        flows = [[a[i] * demand[i] * b[j] * supply[j] * w[i, j] for j in range(m)]
                 for i in range(n)]
        err = sum(abs(demand[i] - sum(flows[i])) for i in range(n))
        err += sum(abs(supply[j] - sum(flows[i][j] for i in range(n))) for j in range(m))
        error = err / sum(demand)
        if error < tol or abs(previous - error) < improvement_tol:
            break
        previous = error
    return np.array(flows), np.array(a), np.array(b), error, it


def raam(demand, supply, travel, max_cycles=150, initial_step=0.2, min_step=0.005,
         half_life=50, limit_initial=20, absolute_steps=False):
    """PySAL's iterate_raam with numpy masked arrays (travel already / tau, supply * rho)."""
    travel = np.ma.masked_array(travel, ~np.isfinite(travel))
    norig, ndest = travel.shape
    idx = np.arange(norig)
    assignment = np.zeros((norig, ndest))
    assignment[idx, travel.argmin(axis=1)] = demand
    total_cost = None
    for i in range(max_cycles):
        at_supply = assignment.sum(axis=0)
        total_cost = at_supply / supply + travel
        lmax = np.ma.masked_array(total_cost, assignment == 0).argmax(axis=1)
        lmin = total_cost.argmin(axis=1)
        smin, smax = supply[lmin], supply[lmax]
        dmin, dmax = assignment[idx, lmin], assignment[idx, lmax]
        dr = dmin + dmax
        other_max = at_supply[lmax] - dmax
        other_min = at_supply[lmin] - dmin
        new = ((smin * smax) / (smin + smax)) * (
            (travel[idx, lmax] - travel[idx, lmin]) + (dr + other_max) / smax - other_min / smin)
        delta = np.minimum(np.asarray(new - dmin), dmax)
        delta = np.where(lmax == lmin, 0, delta)
        if absolute_steps:
            step = max(int(np.round(initial_step * 0.5 ** (i / half_life))), min_step)
            delta = np.minimum(delta, step).astype(int)
        else:
            step = max(initial_step * 0.5 ** (i / half_life), min_step)
            delta = np.minimum(delta, step * demand).astype(int)
        if i < limit_initial:
            mat = np.zeros(travel.shape)
            mat[idx, lmin] += delta
            scale = np.maximum(mat.sum(axis=0) / supply, 1)
            delta = (mat / scale).round().astype(int).sum(axis=1)
        assignment[idx, lmin] += delta
        assignment[idx, lmax] -= delta
    return np.asarray((total_cost * assignment).sum(axis=1) / assignment.sum(axis=1))


def chain_sums(values, group_start, reverse=False):
    """Sum of each group ``values[group_start[g]:group_start[g + 1]]``, in order (or reversed)."""
    out = []
    for g in range(len(group_start) - 1):
        part = list(values[group_start[g]:group_start[g + 1]])
        if reverse:
            part.reverse()
        total = 0.0
        for v in part:
            total += v
        out.append(total)
    return np.array(out, dtype=np.float64)


def nnls_brute_force(m, y):
    """``min |M x - y|`` over ``x >= 0`` by trying every set of free coordinates.

    For each subset of coordinates left free, solve the unconstrained least squares on it
    (the others at 0); keep the feasible solutions and return the one of smallest residual.
    Exponential in the number of columns: for tiny problems only, and obviously right.
    """
    from itertools import combinations

    m = np.asarray(m, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    k = m.shape[1]
    best, best_cost = np.zeros(k), float(np.sum(y ** 2))
    for size in range(1, k + 1):
        for free in combinations(range(k), size):
            sub = m[:, list(free)]
            sol, *_ = np.linalg.lstsq(sub, y, rcond=None)
            if np.all(sol >= -1e-12):
                x = np.zeros(k)
                x[list(free)] = np.maximum(sol, 0.0)
                cost = float(np.sum((m @ x - y) ** 2))
                if cost < best_cost - 1e-15:
                    best, best_cost = x, cost
    return best


# --------------------------------------------------------------------------- inequality


def weighted_quantile(values, weights, p):
    """Hmisc::wtd.quantile(type = "quantile"): interpolate order statistics of weighted data."""
    pairs = sorted((x, w) for x, w in zip(values, weights, strict=True)
                   if math.isfinite(x) and math.isfinite(w) and w != 0)
    levels, cum = [], []
    for x, w in pairs:
        if levels and levels[-1] == x:
            cum[-1] += w
        else:
            levels.append(x)
            cum.append((cum[-1] if cum else 0.0) + w)
    n = cum[-1]
    order = 1 + (n - 1) * p
    low = max(math.floor(order), 1)
    high = min(low + 1, n)
    frac = order % 1

    def at(position):
        for level, c in zip(levels, cum, strict=True):
            if c >= position:
                return level
        return levels[-1]

    return (1 - frac) * at(low) + frac * at(high)


def gini_index(values, population):
    """1 - sum of Lorenz trapezoids (ties keep their order)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    total_p = sum(population)
    total_x = sum(population[i] * values[i] for i in order)
    area, cum_prev, cum = 0.0, 0.0, 0.0
    for i in order:
        cum += population[i] * values[i] / total_x
        area += (cum_prev + cum) * (population[i] / total_p) / 2
        cum_prev = cum
    return 1 - 2 * area


def palma_ratio(values, population, income, cutoffs=None):
    """Population-weighted mean of the richest 10% over that of the poorest 40%."""
    if cutoffs is None:
        cutoffs = (weighted_quantile(income, population, 0.4),
                   weighted_quantile(income, population, 0.9))
    q40, q90 = cutoffs
    rich = [i for i in range(len(values)) if math.isfinite(income[i]) and income[i] > q90]
    poor = [i for i in range(len(values)) if math.isfinite(income[i]) and income[i] <= q40]
    wr = sum(population[i] for i in rich)
    wp = sum(population[i] for i in poor)
    if not (wr > 0 and wp > 0):
        return math.nan
    mean_r = sum(population[i] * values[i] for i in rich) / wr
    mean_p = sum(population[i] * values[i] for i in poor) / wp
    if mean_p == 0:
        return math.inf if mean_r > 0 else math.nan
    return mean_r / mean_p


def theil_t(values, population):
    """sum p (x/mu) ln(x/mu) / sum p, with 0 ln 0 = 0."""
    total = sum(population)
    mu = sum(p * x for p, x in zip(population, values, strict=True)) / total
    if not mu > 0:
        return math.nan
    return sum(p * (x / mu) * math.log(x / mu) for p, x in zip(population, values, strict=True)
               if x > 0) / total


def theil_decomposition(values, population, groups):
    """(between, within) from group means and access shares."""
    total_access = sum(p * x for p, x in zip(population, values, strict=True))
    total_pop = sum(population)
    between = within = 0.0
    for g in sorted(set(groups)):
        members = [i for i in range(len(values)) if groups[i] == g]
        pop_g = sum(population[i] for i in members)
        acc_g = sum(population[i] * values[i] for i in members)
        if pop_g == 0 or acc_g == 0:
            continue
        s = acc_g / total_access
        between += s * math.log(s / (pop_g / total_pop))
        within += s * theil_t([values[i] for i in members], [population[i] for i in members])
    return between, within


def concentration_index(values, population, income, corrected=False):
    """2 / mu * sum s_i (x_i - mu)(R_i - 1/2), zones ranked by income (stable)."""
    order = sorted(range(len(values)),
                   key=lambda i: income[i] if math.isfinite(income[i]) else -math.inf)
    total = sum(population)
    mu = sum(population[i] * values[i] for i in order) / total
    c, before = 0.0, 0.0
    for i in order:
        s = population[i] / total
        rank = before + s / 2
        c += s * (values[i] - mu) * (rank - 0.5)
        before += s
    c *= 2 / mu
    if corrected:
        c *= 4 * mu / (max(values) - min(values))
    return c


def fgt_poverty(values, population, line, alpha):
    """sum p [x < z] ((z - x)/z)^alpha / sum p."""
    total = sum(population)
    return sum(p * ((line - x) / line) ** alpha for p, x in zip(population, values, strict=True)
               if x < line) / total


# --------------------------------------------------------------------------- siting


def _covers(times, radius):
    t = np.asarray(times, dtype=float)
    return [[math.isfinite(t[i, j]) and t[i, j] <= radius for j in range(t.shape[1])]
            for i in range(t.shape[0])]


def greedy_max_coverage(times, weights, n_sites, radius):
    """Recompute every candidate's uncovered weight at each step; lowest column on ties."""
    a = _covers(times, radius)
    n, m = len(a), len(a[0])
    covered = [False] * n
    chosen = []
    for _ in range(n_sites):
        best, best_gain = None, -1.0
        for j in range(m):
            if j in chosen:
                continue
            gain = sum(weights[i] for i in range(n) if a[i][j] and not covered[i])
            if gain > best_gain:
                best, best_gain = j, gain
        chosen.append(best)
        for i in range(n):
            covered[i] = covered[i] or a[i][best]
    return chosen


def best_max_coverage(times, weights, n_sites, radius):
    """Exhaustive MCLP: the largest weight covered by any n_sites columns."""
    import itertools

    a = _covers(times, radius)
    n, m = len(a), len(a[0])
    return max(sum(weights[i] for i in range(n) if any(a[i][j] for j in combo))
               for combo in itertools.combinations(range(m), n_sites))


def fewest_covering_sites(times, radius, need):
    """Exhaustive LSCP: the size of the smallest column set covering every coverable row."""
    import itertools

    a = _covers(times, radius)
    n, m = len(a), len(a[0])
    rows = [i for i in range(n) if need[i] and any(a[i])]
    for size in range(0, m + 1):
        for combo in itertools.combinations(range(m), size):
            if all(any(a[i][j] for j in combo) for i in rows):
                return size
    return m


def best_p_median(times, weights, n_sites):
    """Exhaustive p-median objective."""
    import itertools

    t = np.asarray(times, dtype=float)
    return min(sum(weights[i] * min(t[i, j] for j in combo) for i in range(t.shape[0])
                   if weights[i] > 0)
               for combo in itertools.combinations(range(t.shape[1]), n_sites))


def greedy_p_median(times, weights, n_sites):
    """Add the column lowering sum_i w_i min_j t_ij most; lowest column on ties."""
    t = np.asarray(times, dtype=float)
    chosen = []
    for _ in range(n_sites):
        best, best_cost = None, math.inf
        for j in range(t.shape[1]):
            if j in chosen:
                continue
            cost = sum(weights[i] * min(t[i, k] for k in chosen + [j]) for i in range(t.shape[0]))
            if cost < best_cost:
                best, best_cost = j, cost
        chosen.append(best)
    return chosen


def greedy_set_cover(times, radius, need):
    """Add the column covering the most still-uncovered needed rows until none is left."""
    a = _covers(times, radius)
    n, m = len(a), len(a[0])
    left = {i for i in range(n) if need[i] and any(a[i])}
    chosen = []
    while left:
        best = max(range(m), key=lambda j: (sum(1 for i in left if a[i][j]), -j))
        chosen.append(best)
        left -= {i for i in left if a[i][best]}
    return chosen
