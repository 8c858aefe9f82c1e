"""Seeds until decided, on hand-made records: a claim decided only after more seeds, one still undecided at 20
seeds, one stopped by the time budget; extra seeds come in order and only for the deciding cells."""

import pytest

from clara_ref.experiments import claims as C
from clara_ref.experiments.decide import until_decided
from clara_ref.experiments.grid import RunSpec

from .test_claims import RATES, rec

SUCCESS, FAIL = 0.5, 50.0          # distances from a start of 100: success is <= 1


def _value(label, rate, seed, noisy):
    """C2 on the sphere: SGD succeeds at 1 of 4 rates, SGD-CLARA at 2, Adam at 1, Adam-CLARA at 2, except the
    Adam-CLARA cell at rate 1, whose seeds follow ``noisy(seed)``."""
    ok = {"sgd": 1, "sgd-clara": 2, "adam": 1, "adam-clara": 2}[label]
    if label == "adam-clara" and rate == 1.0:
        return SUCCESS if noisy(seed) else FAIL
    return SUCCESS if RATES.index(rate) < ok else FAIL


def _record(spec, noisy):
    return dict(rec("sphere", spec.label, spec.eta0, spec.seed, _value(spec.label, spec.eta0, spec.seed, noisy)),
                wall_s=1.0)


def _setup(noisy):
    specs = [RunSpec("sphere", lab, e, s) for lab in ("sgd", "sgd-clara", "adam", "adam-clara") for e in RATES
             for s in range(5)]
    ran = []

    def run(todo):
        ran.append(todo)
        return [_record(s, noisy) for s in todo]

    return specs, [_record(s, noisy) for s in specs], run, ran


def test_a_claim_decided_only_after_more_seeds():
    """Seeds 0-4 of the noisy cell: two successes, three failures. Its median fails, so SGD and Adam gain one cell
    each (C2 supported, margin 0), but a resample succeeds there with probability P(Bin(5, 0.4) >= 3) = 0.32, which
    lifts Adam's gain above SGD's: robustness about 68%, not robust. Seeds 5-9 all fail; with 2 successes of 10 a
    resample succeeds with probability P(Bin(10, 0.2) >= 6) = 0.006: robust, decided at 10 seeds."""
    specs, records, run, ran = _setup(lambda s: s in (0, 1))
    first = {r.id: r for r in C.evaluate(records)}["C2"]
    assert first.verdict == "supported" and first.robustness < 0.8
    # binomial(200, 0.32): the robustness is 0.68 within 4 standard errors (0.033 each)
    assert abs(first.robustness - 0.683) < 4 * 0.033
    # its deciding cells: the noisy Adam-CLARA cell and the Adam cell it is compared with, nothing else
    assert first.deciding == (("sphere", "adam", 1.0), ("sphere", "adam-clara", 1.0))
    out = until_decided(specs, records, run, max_seeds=20, budget_s=600)
    c2 = {r.id: r for r in out.results}["C2"]
    assert c2.verdict == "supported" and c2.robustness >= C.ROBUST_SHARE and c2.seeds == 10
    assert c2.numbers["decided_at_seeds"] == 10
    assert [sorted({s.seed for s in todo}) for todo in ran] == [[5, 6, 7, 8, 9]]
    assert {(s.label, s.eta0) for s in ran[0]} == {("adam", 1.0), ("adam-clara", 1.0)}
    assert out.stopped == "every claim is robust" and len(out.records) == len(records) + 10


def test_a_claim_still_undecided_at_20_seeds():
    """The noisy cell succeeds at half of its 20 seeds: its median fails, and a resample succeeds with probability
    P(Bin(20, 0.5) >= 11) = 0.41, so the verdict holds in about 59% of them. After three rounds (seeds 5-9, 10-14,
    15-19) the cell has 20 seeds: C2 is undecided, leaning to supported."""
    specs, records, run, ran = _setup(lambda s: s in (0, 2) or (s >= 5 and s % 2 == 1))
    out = until_decided(specs, records, run, max_seeds=20, budget_s=600)
    c2 = {r.id: r for r in out.results}["C2"]
    assert [sorted({s.seed for s in todo}) for todo in ran] == [list(range(5, 10)), list(range(10, 15)),
                                                               list(range(15, 20))]
    assert c2.verdict == C.UNDECIDED_VERDICT and c2.seeds == 20
    assert c2.numbers["undecided"]["leaning"] == "supported" and "20 seeds" in c2.numbers["undecided"]["why"]
    # binomial(200, 0.41): robustness 0.59 within 4 standard errors (0.035)
    assert abs(c2.robustness - 0.588) < 4 * 0.035


def test_the_time_budget_stops_the_extra_rounds():
    """Each run took 1 s: the first round (10 runs on 1 worker) is estimated at 10 s, over a 5 s budget, so nothing
    runs and C2 is undecided at its 5 seeds."""
    specs, records, run, ran = _setup(lambda s: s in (0, 1))
    out = until_decided(specs, records, run, max_seeds=20, budget_s=5.0)
    c2 = {r.id: r for r in out.results}["C2"]
    assert ran == [] and c2.verdict == C.UNDECIDED_VERDICT and c2.seeds == 5
    assert "does not fit in what is left of the 5 s budget" in c2.numbers["undecided"]["why"]


def test_the_budget_is_charged_with_the_records_times_so_a_rerun_stops_where_the_first_did():
    """A budget of 25 s on 1 worker and runs of 1 s each (their records say so): the noisy cell of the undecided
    case gets round 1 (10 s), round 2 (10 s, 20 s charged), and round 3 (10 s more) does not fit. A rerun whose
    runs are all on disk (returned at once, with the same recorded times) stops at the same round, though it
    spends no time: it used to get the whole budget again and add rounds."""
    noisy = lambda s: s in (0, 2) or (s >= 5 and s % 2 == 1)                          # noqa: E731
    specs, records, run, ran = _setup(noisy)
    first = until_decided(specs, records, run, max_seeds=20, budget_s=25.0)
    assert [sorted({s.seed for s in todo}) for todo in ran] == [list(range(5, 10)), list(range(10, 15))]
    assert "about 10 s" in first.stopped and "(5 s)" in first.stopped
    on_disk = {(r["task"], r["label"], r["eta0"], r["seed"]): r for r in first.records}

    def resume(todo):
        return [on_disk[(s.task, s.label, s.eta0, s.seed)] for s in todo]

    again = until_decided(specs, records, resume, max_seeds=20, budget_s=25.0)
    assert again.stopped == first.stopped and len(again.records) == len(first.records)
    assert [r.verdict for r in again.results] == [r.verdict for r in first.results]


def test_bad_arguments():
    specs, records, run, _ = _setup(lambda s: False)
    with pytest.raises(ValueError, match="max_seeds"):
        until_decided(specs, records, run, max_seeds=0, budget_s=1.0)


def test_a_part_that_is_not_robust_gets_seeds_too():
    """C0's null half on hand-made pure-noise records: CLARA's drift over five seeds is 0.9 of its spread, so a
    resample puts it beyond NULL_SPREADS often; the extra seeds (drift 0) settle it, though C0 as a whole was mixed
    (robustly) all along, because its benchmark half loses."""
    from .test_claims import _bench_records, _null_records

    bench = _bench_records({1e-4: 5.0, 1e-2: 5.0}, {1e-4: 1.0, 1e-2: 1.0})      # Adam-CLARA loses both cells
    records = [dict(r, wall_s=0.1) for r in _null_records(0.009, 7.0) + bench]
    specs = sorted({RunSpec(r["task"], r["label"], r["eta0"], r["seed"]) for r in records},
                   key=lambda s: (s.task, s.label, s.seed))
    first = {r.id: r for r in C.evaluate(records)}["C0"]
    assert first.verdict == "mixed" and first.robustness >= C.ROBUST_SHARE        # the claim is robust ...
    assert first.numbers["parts"]["null"]["robustness"] < C.ROBUST_SHARE          # ... but its null half is not
    pattern = [-1.5, -0.5, 0.5, 1.5, 0.0]

    def run(todo):
        out = []
        for s in todo:
            drift = {"adam-clara": 0.0, "adam-clara-mismatched": 7.0}.get(s.label, 0.0)
            r = rec("pure_noise_15", s.label, s.eta0, s.seed, drift + 0.01 * pattern[s.seed % 5], role="null",
                    initial=0.0, steps=3000)
            out.append(dict(r, lower_is_better=False, n_params=15, wall_s=0.1))
        return out

    out = until_decided(specs, records, run, max_seeds=20, budget_s=600)
    c0 = {r.id: r for r in out.results}["C0"]
    assert out.rounds and all(r["task"] == "pure_noise_15" for r in out.records[len(records):])
    assert c0.numbers["parts"]["null"]["robustness"] >= C.ROBUST_SHARE and c0.verdict == "mixed"
