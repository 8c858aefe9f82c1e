"""The report's sentence for each claim: words made from the numbers a claim function returned.

The claims (``clara_ref.experiments.claims``) return verdicts, numbers and cells, never prose; this module turns
one :class:`~clara_ref.experiments.claims.ClaimResult` into the one-line summary that ``report.md``'s claims
table and ``claims.json``'s ``summary`` field show. Everything a sentence says is read from ``result.numbers``,
``result.case`` (which of a claim's situations it is: decided, runs absent, no cell where the rule can act, ...)
and ``result.thresholds`` (the thresholds the verdict was made with), so the sentence cannot say a number the
verdict did not use.
"""

from __future__ import annotations

import math

from .claims import ClaimResult


def summary(result: ClaimResult) -> str:
    """The one-line summary of a claim's result."""
    return _WRITERS[result.id](result.numbers, result.case, result)


# ---------------------------------------------------------------------------------------------- helpers
def _rate(e) -> str:
    return f"{e:g}"


def _fmt(x) -> str:
    return "diverged" if isinstance(x, float) and math.isinf(x) else f"{x:.4g}"


def _left_out(numbers, res: ClaimResult) -> str:
    """The cells a claim left out because its rule cannot move the rate far enough, with their reach."""
    listing = numbers.get("not_evaluable") or []
    if not listing:
        return ""
    return ("; left out as not evaluable at this step budget (the rate cannot move " +
            f"{res.thresholds.min_reach(res.id):g}x): " +
            ", ".join(f"{v['task']}/{v['label']} ({v['reach']:.3g}x)" if v["reach"] is not None
                      else f"{v['task']}/{v['label']}" for v in listing))


def _unreachable(numbers, res: ClaimResult, what: str) -> str:
    return (f"no {what} where the rule can move the rate {res.thresholds.min_reach(res.id):g}x within its step "
            f"budget{_left_out(numbers, res)}")


# ---------------------------------------------------------------------------------------------- C0
def _c0(n, case, res) -> str:
    if case == "unreachable":
        return _unreachable(n, res, "benchmark cell")
    if case == "absent":
        missing = "the pure-noise tasks" if "null" not in n else "adam-clara-uncorrected-matched on a benchmark task"
        return f"needs {missing}" + "".join(f"; {k} half: {n[k]['verdict']}" for k in ("null", "benchmark") if k in n)
    th, null, bench = res.thresholds, n["null"], n["benchmark"]
    rows = null["rows"]
    clara = [r for r in rows if r["rule"] == "adam-clara"]
    mismatched = [r for r in rows if r["rule"] == "adam-clara-mismatched"]
    gradient = [r for r in rows if r["rule"] == "adam-clara-uncorrected"]
    noise = ("pure noise (" + ", ".join(f"n = {r['n']:,}" if r["n"] else r["task"] for r in clara) +
             "; drift of log eta in null spreads): CLARA " + ", ".join(f"{r['z']:+.2f}" for r in clara) +
             "; Adam's steps against the random walk " + ", ".join(f"{r['z']:+.3g}" for r in mismatched) +
             ("; the gradient path (2017) " + ", ".join(f"{r['z']:+.2f}" for r in gradient) if gradient else "") +
             f" (consistent: within {th.null_spreads:g}; drifts: beyond {th.drift_spreads:g})")

    def shares(groups):
        return ", ".join(f"{k} {g['better']}-{g['worse']} ({g['same']} ties)" for k, g in groups.items()) or "none"

    named, apart = bench["named_task"], bench["disagreement"]
    return (f"{noise}: {null['verdict']}; benchmark, Adam-CLARA against the uncorrected rule at matched speed, "
            f"cells won-lost: {shares(bench['groups'])}: {bench['verdict']} (at equal d: {shares(bench['equal_d'])})"
            + (f"; the rules leave the rate furthest apart on {named} (median {math.exp(apart[named]):.3g}x)"
               if named else "") + _left_out(n, res))


# ---------------------------------------------------------------------------------------------- C1-C5
def _c1(n, case, res) -> str:
    if case == "absent":
        return "needs SGD/Adam and their CLARA variants on a synthetic task"
    if case == "unreachable":
        return _unreachable(n, res, "synthetic cell")
    if case == "no_separation":
        return "no cell separates CLARA from the fixed rate" + _left_out(n, res)
    lost, stuck = n["losses_by_name"], n["no_progress_by_name"]
    loss_names = "; ".join(f"{c['task']}/{c['base']} at {_rate(c['rate'])} ({_fmt(c['clara'])} vs "
                           f"{_fmt(c['fixed'])})" for c in lost)
    idle_names = "; ".join(f"{r['task']}/{r['base']} at {r['rates']} rates (CLARA diverged at {r['clara_diverged']})"
                           for r in stuck)
    return (f"CLARA wins {n['wins']}, loses {n['losses']} of {n['wins'] + n['losses']} decided (task, base, rate) "
            f"cells (share {n['share']:.2f}); {n['ties']} ties; geometric-mean ratio CLARA/fixed "
            f"{n['geometric_mean_ratio']:.3g}" + (f"; losses: {loss_names}" if lost else "")
            + (f"; neither halved the distance (neither a win nor a loss): {idle_names}" if stuck else "")
            + _left_out(n, res))


def _c2(n, case, res) -> str:
    if case == "absent":
        return "needs SGD and SGD-CLARA"
    if case == "unreachable":
        return _unreachable(n, res, "task")
    parts = [f"{base} {kind}: fixed {g['fixed']}, CLARA {g['clara']} of {g['cells']}"
             for base in ("sgd", "adam") for kind in ("synthetic", "real") if (g := n.get(f"{base}_{kind}"))]
    return ("successful (task, rate) cells, " + "; ".join(parts) + f". Gain as a share of the cells: SGD "
            f"{n['sgd_gain_share']:+.2f}" + (f", Adam {n['adam_gain_share']:+.2f}" if "adam_gain_share" in n else "")
            + f" (far more: >= {res.thresholds.far_gain:g}, and SGD's at least Adam's)" + _left_out(n, res))


def _c3(n, case, res) -> str:
    if case == "absent":
        return "needs an image task with D-Adaptation, a fixed rate and its CLARA variant"
    st, rec, vs = n["stability"], n["recovery"], n["stability"]["against_fixed"]
    stab = (f"stability: CLARA's worst seed beats D-Adaptation's at {st['more']}, trails at {st['less']}, ties at "
            f"{st['same']} (task, variant, rate) cells above chance (share {st['share']:.2f}); against the fixed "
            f"rate it beats, trails, ties at {vs['more']}, {vs['less']}, {vs['same']}; median seed spread " +
            ", ".join(f"{k} {v:.3f}" for k, v in n["median_seed_spread"].items()))
    if case == "beyond_budget":
        return (f"{stab}; recovery: none of the {rec['beyond_budget']} poor-rate cells can climb to a successful "
                "fixed rate within the step budget" + _left_out(n, res))
    if case == "no_poor_rate":
        return f"{stab}; recovery: no initial rate is poor for the fixed optimizer here"
    tried = rec["recovered"] + rec["not_recovered"]
    return (f"{stab}; recovery: CLARA succeeds at {rec['recovered']} of {tried} poor rates it can climb from "
            f"(share {rec['share']:.2f}; {rec['beyond_budget']} more beyond the budget; D-Adaptation succeeds at "
            f"{rec['dadapt_succeeded']} of them)" + _left_out(n, res))


def _c4(n, case, res) -> str:
    if case == "unreachable":
        return _unreachable(n, res, "task")
    if case == "absent":
        return "needs Adam and Adam-CLARA at small and at large rates" + _left_out(n, res)
    th, listed = res.thresholds, n["cells"]

    def tally(keep):
        kept = [c for c in listed if keep(c["rate"])]
        return f"{sum(c['outcome'] == 'better' for c in kept)}/{len(kept)}"

    def better_cells(kind):
        return ", ".join(f"{c['task']} {_rate(c['rate'])}" for c in listed if c["kind"] == kind
                         and c["outcome"] == "better") or "none"

    return (f"Adam-CLARA better than Adam in {tally(lambda e: e <= th.small_rate)} cells at rates <= "
            f"{th.small_rate:g}, {tally(lambda e: e >= th.large_rate)} at >= {th.large_rate:g}, "
            f"{tally(lambda e: True)} overall (gap {n['gap']:+.2f}); better cells, synthetic: "
            f"{better_cells('synthetic')}; real data: {better_cells('real')}" + _left_out(n, res))


def _c5(n, case, res) -> str:
    if case == "unreachable":
        return _unreachable(n, res, "task")
    if case == "absent":
        return "needs a fixed rate and a CLARA variant on the same task"
    rows, pooled, saturated = n["pairs"], n["pooled"], n["saturated"]
    return (f"base by base, the tuned fixed rate wins on {n['fixed_wins']}, ties on {n['ties']}, loses on "
            f"{n['clara_wins']} of {len(rows)} (task, base) pairs (" +
            "; ".join(f"{r['task']}/{r['base']}: {_fmt(r['tuned_fixed'])} vs {_fmt(r['best_clara'])}" for r in rows)
            + ")" + (f"; saturated, left out: {', '.join(saturated)}" if saturated else "") +
            f"; pooled over the bases: wins {pooled['fixed_wins']}, ties {pooled['ties']}, loses "
            f"{pooled['clara_wins']} of {len(pooled['tasks'])} tasks ({pooled['verdict']})" + _left_out(n, res))


# ---------------------------------------------------------------------------------------------- C6
def _c6(n, case, res) -> str:
    if case == "absent":
        return "needs a drifting task with X, X-CLARA and a schedule of X (preset drift)"
    if case == "unreachable":
        return _unreachable(n, res, "drifting task")
    th = res.thresholds
    wins = "none decided" if math.isnan(n["win_share"]) else f"share {n['win_share']:.2f}"
    follows = "none evaluable" if math.isnan(n["follow_share"]) else f"share {n['follow_share']:.2f}"

    def pair(r):
        phases = ", ".join(f"{p} {_fmt(r[p]['clara'])} vs {_fmt(r[p]['fixed'])} / {_fmt(r[p]['schedule'])}"
                           + (" (a repeat of an earlier task's, not counted)" if r[p]["outcome"] == "repeat" else "")
                           for p in ("phase1", "end"))
        move = ("ideal unchanged" if r["follow"] is None else
                f"ln eta moved {r['follow']['moved']:+.2f} of {r['follow']['needed']:+.2f}")
        return (f"{r['task']}/{r['base']} ({phases}; ideal {r['ideal'][0]:g} -> {r['ideal'][1]:g}, {move})")

    return (f"CLARA against the tuned fixed rate and the better tuned schedule at the end of each phase: wins "
            f"{n['wins']}, losses {n['losses']}, ties {n['ties']} ({wins}); its rate moved at least "
            f"{th.follow_share:g} of the way to the new ideal within the steps after the change in {n['followed']} "
            f"of {n['followed'] + n['not_followed']} changes ({follows}): " + "; ".join(pair(r) for r in n["pairs"])
            + _left_out(n, res))


def _c7(n, case, res) -> str:
    if case == "absent":
        return "needs a schedule of X beside X and its CLARA variants on a stationary task"
    if case == "unreachable":
        return _unreachable(n, res, "task")
    share = "no pair where CLARA has a benefit" if math.isnan(n["share"]) else f"share {n['share']:.2f}"
    return (f"where tuned CLARA beats the tuned fixed rate, the tuned schedule is better in {n['schedule_better']}, "
            f"ties in {n['ties']}, is worse in {n['clara_better']} (task, base) pairs ({share}; CLARA has no benefit "
            f"in {n['no_benefit']} more): " +
            "; ".join(f"{r['task']}/{r['base']} {r['clara']} {_fmt(r['clara_median'])} ({r['clara_rate']:g}), fixed "
                      f"{_fmt(r['fixed_median'])} ({r['fixed_rate']:g}), {r['schedule']} {_fmt(r['schedule_median'])} "
                      f"({r['schedule_rate']:g})" for r in n["pairs"]) + _left_out(n, res))


# ---------------------------------------------------------------------------------------------- D1-D3
_SWEPT = {"D1": "the damping d", "D3": "the path constant c"}


def _robust_across(n, case, res) -> str:
    what = _SWEPT[res.id]
    if case == "absent":
        return f"needs a sweep of {what} (preset damping)"
    rows, left_out = n["pairs"], n["not_evaluable"]
    return (f"the successful rates change by at most {res.thresholds.d1_spread} across {what} in "
            f"{sum(r['robust'] for r in rows)} of {len(rows)} (task, variant) pairs: " +
            "; ".join(f"{r['task']}/{r['variant']} " + "/".join(map(str, r["successes"].values())) for r in rows)
            + (f"; left out (the rate cannot move {res.thresholds.min_reach(res.id):g}x): " +
               ", ".join(f"{v['task']}/{v['label']}" for v in left_out) if left_out else ""))


def _d2(n, case, res) -> str:
    if case == "absent":
        return "needs a damping sweep (preset damping)"
    rows = n["pairs"]
    wins, losses = (sum(r["outcome"] == k for r in rows) for k in ("win", "loss"))
    text = (f"the largest d succeeds from a smaller initial rate than the smallest d in {wins}, from a larger one "
            f"in {losses}, the same in {len(rows) - wins - losses} of {len(rows)} (task, variant) pairs")
    return text + ("; no pair separates them" if case == "no_separation" else "")


_WRITERS = {"C0": _c0, "C1": _c1, "C2": _c2, "C3": _c3, "C4": _c4, "C5": _c5, "C6": _c6, "C7": _c7,
            "D1": _robust_across, "D2": _d2, "D3": _robust_across}
