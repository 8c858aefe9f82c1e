"""Objectives that change at a known step (objectives.drifting), the step passed to them by optimize, and the ideal
rate of each phase (clara_ref.phases)."""

import numpy as np
import pytest

import clara_ref as cr
from clara_ref.phases import ideal_rates

RATES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@pytest.mark.parametrize("name", cr.objectives.DRIFTING)
def test_each_drifting_gradient_is_the_derivative_of_its_value_at_every_step(name):
    f = cr.objectives.drifting(name, change_at=50)
    x = np.random.default_rng(1).standard_normal(10) * 30.0
    for t in (0, 1, 49, 50, 51, 200):
        # f_t is a quadratic: central differences are exact up to rounding (relative ~1e-10 at h = 1e-6)
        assert cr.gradcheck(lambda z: f.value(z, t=t), lambda z: f.grad(z, t=t), x) < 1e-7, t


def test_the_change_happens_at_change_at():
    up = cr.objectives.drifting("quadratic_jump_up", change_at=10)
    x = np.ones(10)
    assert up.value(x, t=9) == 10.0 and up.value(x, t=10) == 1000.0           # h |x|^2 with h = 1, then 100
    assert up.grad(x, t=9).tolist() == [2.0] * 10 and up.grad(x, t=10).tolist() == [200.0] * 10
    move = cr.objectives.drifting("moving_sphere", change_at=10)
    u = np.full(10, 1 / np.sqrt(10))
    np.testing.assert_allclose(move.optimum(4), 4 * u, rtol=1e-15)             # v t u, v = 1
    np.testing.assert_allclose(move.optimum(10), (10 + 100) * u, rtol=1e-15)   # jumped by 100 ...
    np.testing.assert_allclose(move.optimum(60), (10 + 100) * u, rtol=1e-15)   # ... and stays
    assert move.distance(move.optimum(7), t=7) == 0.0
    noisy = cr.objectives.drifting("noise_jump", change_at=10)
    spread = [np.std([noisy.grad(np.zeros(10), np.random.default_rng(s), t=t) for s in range(400)])
              for t in (9, 10)]
    # the gradient is 2 sigma xi at the optimum: standard deviations 2 and 20 (400 x 10 draws: within 5%)
    assert spread[0] == pytest.approx(2.0, rel=0.05) and spread[1] == pytest.approx(20.0, rel=0.05)
    with pytest.raises(ValueError, match="t \\(the step\\) is required"):
        up.grad(x)
    with pytest.raises(TypeError, match="real floating array of shape \\(10,\\)"):      # as every objective
        up.value(np.ones(10, dtype=np.int64), t=0)
    with pytest.raises(ValueError, match="x must have shape \\(10,\\) for quadratic_jump_up"):
        up.distance(np.ones(3), t=0)
    with pytest.raises(ValueError, match="drifting"):
        cr.objectives.get("moving_sphere")


def test_optimize_passes_the_step_and_a_stationary_objective_ignores_it():
    f = cr.objectives.drifting("quadratic_jump_up", change_at=6)
    r = cr.optimize(f, cr.sgd(0.3), steps=10, seed=0)
    # h = 1 for updates 1-5 (x shrinks by 1 - 2 eta = 0.4 a step, noise aside), then h = 100: 0.3 diverges at once
    assert r.diverged and r.diverged_at is not None and r.diverged_at >= 6
    sphere = cr.objectives.get("sphere", n=3, noise=0.1)
    x = np.array([1.0, 2.0, 3.0])
    assert sphere.grad(x, np.random.default_rng(0), t=7).tolist() == sphere.grad(x, np.random.default_rng(0)).tolist()
    with pytest.raises(ValueError, match="t0 must be 0"):
        cr.optimize(sphere, cr.sgd(0.1), steps=3, t0=5)


def test_a_phase_goes_on_from_the_state_an_earlier_run_left():
    f = cr.objectives.drifting("moving_sphere", change_at=20)
    whole = cr.optimize(f, cr.adam(0.1), steps=30, seed=3)
    first = cr.optimize(f, cr.adam(0.1), steps=12, seed=3)
    # the same 12 steps, then 18 more from the state they left: the first run's noise stream is not continued, so
    # only the step counter, the iterate and Adam's moments carry over; t0 = 12 puts the change at the same step
    rest = cr.optimize(f, cr.adam(0.1), steps=18, seed=4, x0=first.x, t0=12, state0=first.state)
    assert first.distance == whole.distance[:13]
    assert rest.state.direction.t == 30 and len(rest.distance) == 19
    assert rest.distance[0] == first.distance[-1]
    assert rest.distance[8] - rest.distance[7] > 50               # the jump by 100 at t = 20 = 12 + 8


@pytest.mark.parametrize("name", ["quadratic_jump_up", "quadratic_jump_down", "moving_sphere"])
def test_the_two_phases_ideal_rates_are_at_least_ten_times_apart(name):
    """The tasks C6 rests on need a real change of the ideal rate: for SGD the best fixed rate of the grid before
    and after the change differ by at least one step of the 10x grid (measured at 600 steps, 3 seeds)."""
    f = cr.objectives.drifting(name, change_at=301)
    first, second = ideal_rates(f, cr.sgd, RATES, steps=600, seeds=(0, 1, 2))
    assert (first.t0, first.steps, second.t0, second.steps) == (0, 300, 300, 300)
    ratio = max(first.rate, second.rate) / min(first.rate, second.rate)
    assert ratio >= 10.0 * (1 - 1e-12), (first.rate, second.rate)
    # the winner beats both of its neighbours on the grid: the choice is not a tie broken by order
    for phase in (first, second):
        i = RATES.index(phase.rate)
        neighbours = [phase.medians[RATES[j]] for j in (i - 1, i + 1) if 0 <= j < len(RATES)]
        assert all(phase.medians[phase.rate] < m for m in neighbours)


def test_the_drift_preset_runs_the_drifting_tasks_and_the_paper_preset_does_not():
    from clara_ref.experiments.grid import DRIFT_TASKS, PRESETS, TASKS

    assert DRIFT_TASKS == cr.objectives.DRIFTING + ("digits_mlp_seq_pixels", "digits_mlp_seq_labels")
    for t in cr.objectives.DRIFTING:
        assert (TASKS[t].steps, TASKS[t].change_at, TASKS[t].role, TASKS[t].damping) == (1000, 501, "drift", "auto")
        assert TASKS[t].scaled(0.5).change_at == 251           # a shortened task keeps its change mid-run: 250 + 250
    for t, what in (("digits_mlp_seq_pixels", "pixels"), ("digits_mlp_seq_labels", "labels")):
        task = TASKS[t]
        assert (task.sequence, task.phase_epochs, task.steps_total, task.damping) == (what, (30, 30), 2700, 1e-2)
        assert task.scaled(0.1).phase_epochs == (3, 3)
    assert set(PRESETS["drift"].tasks) == set(DRIFT_TASKS)
    assert not set(DRIFT_TASKS) & set(PRESETS["paper"].tasks)
    assert {"sgd-cosine", "adam-step", "adam-clara-uncorrected", "adam-alera"} <= set(PRESETS["drift"].optimizers)


def test_a_drift_run_records_the_distance_to_the_optimum_of_its_own_step():
    from clara_ref.experiments.grid import TASKS, RunSpec
    from clara_ref.experiments.runner import run_one

    record = run_one(RunSpec(task="moving_sphere", optimizer="sgd", eta0=0.1, seed=0))
    f = TASKS["moving_sphere"].objective_of()
    assert record["error"] is None and len(record["metric"]) == 1001
    assert record["metric"][0] == f.distance(f.x0, t=0) == pytest.approx(100 * np.sqrt(10), rel=1e-15)
    # at update 501 the optimum jumps by 100 along u: the distance jumps from a tracking lag to about 100
    assert record["metric"][500] < 20 and record["metric"][501] > 80


def test_the_report_names_each_phase_s_ideal_rate_and_each_method_s_distance_at_both_ends(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from clara_ref.experiments import drift
    from clara_ref.experiments.figures import _drift_figure
    from clara_ref.experiments.grid import RunSpec
    from clara_ref.experiments.runner import run_one

    records = [run_one(RunSpec(task="quadratic_jump_up", optimizer=o, eta0=e, seed=s))
               for o in ("sgd", "sgd-clara") for e in (1e-3, 1e-1) for s in (0, 1)]
    rows = {row["label"]: row for row in drift.tuned_rows(records, "quadratic_jump_up")}
    # SGD at 0.1 diverges once h = 100 (0.1 > 1/h); at 1e-3 it survives: its best initial rate is 1e-3
    assert rows["sgd"]["rate"] == 1e-3 and rows["sgd"]["phase1"] > 50
    runs = [r for r in records if r["optimizer"] == "sgd" and r["eta0"] == 1e-3]
    assert rows["sgd"]["phase1"] == float(np.median([r["metric"][500] for r in runs]))
    lines = drift.drift_section(records, ["drift_quadratic_jump_up.png"])
    ideal = drift.ideal("quadratic_jump_up", (1e-3, 1e-1), (0, 1))
    assert f"| quadratic_jump_up | step 501 | {ideal['sgd'][0].rate:g} -> {ideal['sgd'][1].rate:g} |" in "\n".join(lines)
    assert ideal["sgd"][0].rate == 0.1 and ideal["sgd"][1].rate == 1e-3       # 100x: the curvature's jump
    assert _drift_figure(plt, "quadratic_jump_up", records, str(tmp_path)) == "drift_quadratic_jump_up.png"
    assert (tmp_path / "drift_quadratic_jump_up.png").stat().st_size > 10_000


def test_a_second_task_permutes_the_pixels_or_the_labels_and_training_goes_on_from_the_first():
    data = cr.data.load("digits", seed=0)
    before = [a.copy() for a in data]
    Xp, yp, Xtp, ytp = cr.data.permuted(data, "pixels", seed=3)
    perm = np.random.default_rng(3).permutation(64)
    assert np.array_equal(Xp, data[0][:, perm]) and np.array_equal(Xtp, data[2][:, perm])   # one permutation
    assert np.array_equal(yp, data[1]) and np.array_equal(ytp, data[3])
    Xl, yl, _, ytl = cr.data.permuted(data, "labels", seed=3)
    classes = np.random.default_rng(3).permutation(10)
    assert np.array_equal(yl, classes[data[1]]) and np.array_equal(ytl, classes[data[3]])
    assert np.array_equal(Xl, data[0]) and sorted(set(yl.tolist())) == list(range(10))
    assert all(np.array_equal(a, b) for a, b in zip(data, before))                            # not touched
    with pytest.raises(ValueError, match="what must be one of"):
        cr.data.permuted(data, "rows", seed=0)
    model, opt = cr.models.mlp((64, 32, 10)), cr.adam(1e-2)
    first = cr.train(model, opt, data, epochs=3, batch_size=64, seed=0)
    second = cr.train(model, opt, (Xp, yp, Xtp, ytp), epochs=2, batch_size=64, seed=0, theta0=first.theta,
                      state0=first.state)
    assert second.state.t == first.state.t + 2 * 23                 # 1437 rows in batches of 64: 23 steps an epoch
    assert second.train_loss[0] == model.loss(first.theta, Xp, yp)  # it starts from the first task's end ...
    assert first.test_accuracy[-1] > 0.8 and second.test_accuracy[0] < 0.5   # ... where the permuted pixels fail
    with pytest.raises(ValueError, match="theta0 must have shape"):
        cr.train(model, opt, data, epochs=1, theta0=first.theta[:-1])


# ---------------------------------------------------------------------------------------- real data in sequence
def test_a_task_in_sequence_trains_on_the_first_then_goes_on_on_the_second():
    from clara_ref.experiments.grid import RunSpec, TASKS, build_optimizer, load_sequence
    from clara_ref.experiments.record import RunRecord, validate
    from clara_ref.experiments.runner import run_one
    from clara_ref.phases import PHASE_TWO_SEED

    spec = RunSpec(task="digits_mlp_seq_pixels", optimizer="adam", eta0=1e-3, seed=1, scale=0.1)
    record = run_one(spec)
    assert record["error"] is None and record["steps_total"] == 270 and len(record["metric"]) == 7
    # the same two phases by hand: 3 epochs on digits, then 3 on its permuted pixels from where the first left
    task, (first, second) = spec.resolved_task(), load_sequence(spec)
    model, opt = task.model(), build_optimizer(spec)[0]
    a = cr.train(model, opt, first, epochs=3, batch_size=32, seed=1, dtype=np.float32)
    b = cr.train(model, opt, second, epochs=3, batch_size=32, seed=PHASE_TWO_SEED + 1, dtype=np.float32,
                 theta0=a.theta, state0=a.state)
    assert record["metric"] == a.test_accuracy + b.test_accuracy[1:] and record["eta"] == a.eta + b.eta[1:]
    assert record["first_task_metric"] == model.accuracy(b.theta, first[2].astype(np.float32), first[3])
    assert b.state.t == 270 and np.array_equal(first[1], second[1])          # one step counter; the same labels
    assert RunRecord.from_dict(record).to_dict() == record
    assert "first_task_metric" in validate({k: v for k, v in record.items() if k != "first_task_metric"})
    sphere = run_one(RunSpec(task="sphere", optimizer="sgd", eta0=0.1, seed=0, scale=0.1))
    assert "first_task_metric" in validate(dict(sphere, first_task_metric=0.5))
    # d = 1e-2 lets Adam-CLARA's rate move far more than 10x within each 1,350-step phase at full length
    clara = run_one(RunSpec(task="digits_mlp_seq_labels", optimizer="adam-clara", eta0=1e-3, seed=0, scale=0.1))
    steps = TASKS["digits_mlp_seq_labels"].phase_epochs[0] * 45
    assert cr.rate_control.log_rate_range(1e-2, clara["reference"], clara["n_blocks"], steps) > np.log(10.0)


def test_a_sequence_that_diverges_stops_where_it_diverged():
    from clara_ref.phases import train_in_sequence

    data = cr.data.load("iris")
    model = cr.models.softmax_regression(4, 3)
    blown = tuple(a * 1e200 if a.dtype.kind == "f" else a for a in data)     # the same rate overflows on these
    late = train_in_sequence(model, cr.sgd(0.5), data, blown, epochs=(4, 5), batch_size=32)
    # epoch 1 of phase 2 is epoch 5 of the run: the curves stop after the 4 epochs of phase 1
    assert late.run.diverged and late.run.diverged_at == 5 and late.first_task_accuracy is None
    assert len(late.run.test_accuracy) == 5 and late.change_at == 5 and late.run.divergence == "non-finite gradient"
    # features 1e8 times larger keep the loss finite but end it beyond 1000x its start: diverged at the run's end
    big = tuple(a * 1e8 if a.dtype.kind == "f" else a for a in data)
    end = train_in_sequence(model, cr.sgd(0.5), data, big, epochs=(4, 5), batch_size=32)
    assert end.run.diverged and end.run.diverged_at == 9 and len(end.run.test_accuracy) == 10
    early = train_in_sequence(model, cr.sgd(0.5), blown, data, epochs=(4, 5), batch_size=32)
    assert early.run.diverged and early.run.diverged_at == 1 and early.first_task_accuracy is None
    with pytest.raises(ValueError, match="epochs must be a pair"):
        train_in_sequence(model, cr.sgd(0.5), data, data, epochs=4)


def test_the_ideal_rates_of_a_sequence_go_on_from_the_best_first_phase():
    from clara_ref.phases import PHASE_TWO_SEED, ideal_rates_in_sequence

    data = cr.data.load("iris")
    second = cr.data.permuted(data, "labels", seed=0)
    model, rates, seeds = cr.models.softmax_regression(4, 3), (1e-3, 3e-2, 1.0), (0, 1, 2)
    one, two = ideal_rates_in_sequence(model, cr.sgd, (data, second), rates, epochs=(3, 4), batch_size=32,
                                       seeds=seeds)
    by_hand = {r: [cr.train(model, cr.sgd(r), data, epochs=3, batch_size=32, seed=s) for s in seeds] for r in rates}
    medians = {r: float(np.median([x.test_accuracy[-1] for x in by_hand[r]])) for r in rates}
    assert one.medians == medians and one.rate == max(rates, key=lambda r: (medians[r], -r))  # ties: the smaller
    starts = by_hand[one.rate]
    for r in rates:                          # phase 2 from where each seed's best phase-1 run ended, at rate r
        runs = [cr.train(model, cr.sgd(r), second, epochs=4, batch_size=32, seed=PHASE_TWO_SEED + s,
                         theta0=x.theta, state0=x.state._replace(eta=r)) for s, x in zip(seeds, starts)]
        assert two.medians[r] == float(np.median([x.test_accuracy[-1] for x in runs]))
    assert (two.t0, two.steps) == (3, 4)


def test_the_report_shows_a_sequence_s_ideal_rates_and_accuracies_on_both_tasks(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from clara_ref.experiments import drift
    from clara_ref.experiments.figures import _drift_figure
    from clara_ref.experiments.grid import RunSpec
    from clara_ref.experiments.runner import run_one

    t = "digits_mlp_seq_labels"
    records = [run_one(RunSpec(task=t, optimizer=o, eta0=e, seed=s, scale=0.1))
               for o in ("sgd", "sgd-clara", "sgd-cosine") for e in (1e-3, 1e-1) for s in (0, 1)]
    text = "\n".join(drift.drift_section(records, [f"drift_{t}.png"]))
    best = drift.ideal_for(records, t)
    assert f"| {t} | epoch 4 | {best['sgd'][0].rate:g} -> {best['sgd'][1].rate:g} |" in text
    assert "accuracy on task 1, end of run |" in text
    rows = {row["label"]: row for row in drift.tuned_rows(records, t)}
    runs = rows["sgd"]["runs"]
    assert rows["sgd"]["first_task"] == float(np.median([r["first_task_metric"] for r in runs]))
    assert rows["sgd"]["phase1"] == float(np.median([r["metric"][3] for r in runs]))   # epoch 3, the end of phase 1
    assert _drift_figure(plt, t, records, str(tmp_path)) == f"drift_{t}.png"
