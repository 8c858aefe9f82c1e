"""save_state / load_state: a run resumed from a checkpoint equals an uninterrupted run bit for bit."""

import numpy as np
import pytest

import clara_ref as cr

from .conftest import OPT_IDS, OPTIMIZERS, quad_loss, quadratic_grads


def _steps(opt, theta, state, ks):
    for k in ks:
        theta, state = opt.update(theta, quadratic_grads(theta, k), state, loss=quad_loss(theta))
    return theta, state


@pytest.mark.parametrize("factory", [f for _, f in OPTIMIZERS], ids=OPT_IDS)
def test_resume_is_bit_for_bit(factory, tmp_path):
    opt = factory()
    theta0 = np.linspace(-2.0, 2.0, 8)
    full_theta, full_state = _steps(opt, theta0, opt.init(theta0), range(30))
    mid_theta, mid_state = _steps(opt, theta0, opt.init(theta0), range(12))
    path = tmp_path / "state.npz"
    cr.save_state(path, mid_state)
    np.save(tmp_path / "theta.npy", mid_theta)
    loaded = cr.load_state(path)
    assert type(loaded) is type(mid_state)
    theta, state = _steps(opt, np.load(tmp_path / "theta.npy"), loaded, range(12, 30))
    np.testing.assert_array_equal(theta, full_theta)
    assert state.eta == full_state.eta and state.t == full_state.t
    assert repr(state) == repr(full_state)


def test_archive_has_no_pickle_and_rejects_foreign_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a readable clara_ref checkpoint"):
        cr.load_state(path)


def test_a_state_no_update_could_produce_is_not_saved(tmp_path):
    """A state with inf in it (an update refuses to make one: NonFiniteStateError) is refused, as is what is not
    a state at all."""
    opt = cr.dadapt_sgd(growth_rate=float("inf"))
    with pytest.raises(ValueError, match="d_hat is inf; an update never leaves a state with a non-finite value"):
        cr.save_state(tmp_path / "s.npz", opt.init(np.ones(2))._replace(d_hat=float("inf")))
    for bad in (None, {}, (1, 2), np.ones(2)):
        with pytest.raises(ValueError, match="state must be a clara_ref optimizer state"):
            cr.save_state(tmp_path / "s.npz", bad)
    assert not (tmp_path / "s.npz").exists()
    cr.save_state(tmp_path / "s.npz", opt.init(np.ones(2)), optimizer=opt)      # inf hyperparameters are kept
    assert cr.load_state(tmp_path / "s.npz", optimizer=opt).t == 0


def _archive(path, record, arrays):
    """An archive as save_state lays it out, with a record and arrays of the test's choosing."""
    import json

    from clara_ref.checkpoint import _SCHEMA_KEY

    np.savez(path, **{_SCHEMA_KEY: np.array(json.dumps(record))}, **arrays)
    return path


def _parts(state, optimizer=None):
    from clara_ref.checkpoint import _encode, _hyperparameters

    arrays = {}
    tree = _encode(state, "", arrays)
    record = {"format": 2, "state": tree}
    if optimizer is not None:
        record.update(optimizer=repr(optimizer), name=optimizer.name, hyperparameters=_hyperparameters(optimizer))
    return record, arrays


@pytest.mark.parametrize("saved,given,names", [
    (lambda: cr.clara(cr.adam_direction(), 0.1, blocks=(4, 6)), lambda: cr.clara(cr.adam_direction(), 0.1),
     ["blocks: [4, 6] in the checkpoint, None here"]),
    (lambda: cr.clara(cr.adam_direction(), 0.1), lambda: cr.clara(cr.adam_direction(beta1=0.8, eps=1e-6), 0.1),
     ["beta1: 0.9 in the checkpoint, 0.8 here", "eps: 1e-08 in the checkpoint, 1e-06 here"]),
    (lambda: cr.clara(cr.adam_direction(), 0.1, c=0.2), lambda: cr.clara(cr.adam_direction(), 0.1, c=0.9),
     ["c: 0.2 in the checkpoint, 0.9 here"]),
    (lambda: cr.adam(0.1), lambda: cr.adam(0.01), ["eta0: 0.1 in the checkpoint, 0.01 here"]),
])
def test_load_state_refuses_other_hyperparameters_naming_each(tmp_path, saved, given, names):
    """The archive records the hyperparameters; a state of clara(adam, blocks=(4, 6)) used to load and update
    under clara(adam), under other Adam hyperparameters and under another path constant."""
    made = saved()
    path = tmp_path / "s.npz"
    cr.save_state(path, made.init(np.ones(10)), optimizer=made)
    assert cr.load_state(path, optimizer=made).t == 0
    with pytest.raises(ValueError, match="whose hyperparameters differ from the optimizer given") as info:
        cr.load_state(path, optimizer=given())
    for name in names:
        assert name in str(info.value)


def _bad_states():
    opt = cr.clara(cr.adam_direction(), 0.1)
    st = opt.init(np.ones(3))
    nan = st._replace(p=np.array([0.0, np.nan, 0.0]))
    return {
        "t = -5": (st._replace(t=-5), "t must be a non-negative int"),
        "t = 1.5": (st._replace(t=1.5), "t must be a non-negative int"),
        "a bool t": (st._replace(t=True), "t must be a non-negative int"),
        "eta NaN": (st._replace(eta=float("nan")), "eta must be a finite positive float"),
        "eta negative": (st._replace(eta=-0.1), "eta must be a finite positive float"),
        "eta zero": (st._replace(eta=0.0), "eta must be a finite positive float"),
        "eta inf": (st._replace(eta=float("inf")), "eta must be a finite positive float"),
        "eta an int": (st._replace(eta=1), "eta must be a finite positive float"),
        "a NaN array": (nan, "p holds 1 inf or NaN entries"),
        "a NaN moment": (st._replace(direction=st.direction._replace(m=np.array([np.nan] * 3))),
                         "direction.m holds 3 inf or NaN"),
        "a float of the state inf": (st._replace(p_sq=float("inf")), "p_sq is inf"),
        "a 2-D array": (st._replace(p=np.zeros((3, 1))), "p must be a 1-D float32 or float64 array"),
        "an int array": (st._replace(p=np.zeros(3, dtype=np.int64)), "p must be a 1-D float32 or float64 array"),
        "arrays of two sizes": (st._replace(p=np.zeros(4)), "does not match"),
        "a direction t negative": (st._replace(direction=st.direction._replace(t=-1)), "direction.t must be"),
    }


@pytest.mark.parametrize("case", list(_bad_states()))
def test_a_malformed_state_is_refused_on_loading_naming_the_file(tmp_path, case):
    state, why = _bad_states()[case]
    path = _archive(tmp_path / "s.npz", *_parts(state))
    with pytest.raises(ValueError, match=f"'{path}' is not a readable clara_ref checkpoint: .*{why}"):
        cr.load_state(path)


def test_a_lying_record_is_refused(tmp_path):
    """The record must name known classes with exactly their fields, arrays the archive holds with the declared
    shape and dtype, no array left unnamed, a nesting of a few levels; anything else names the file."""
    import json
    import zipfile

    from clara_ref.checkpoint import _SCHEMA_KEY

    opt = cr.adam(0.1)
    record, arrays = _parts(opt.init(np.ones(3)))
    cases = {}
    r = json.loads(json.dumps(record))
    r["state"]["namedtuple"] = "os.system"
    cases["an unknown class"] = (r, arrays, "names 'os.system', which is no clara_ref state class")
    r = json.loads(json.dumps(record))
    del r["state"]["fields"]["eta"]
    cases["a missing field"] = (r, arrays, r"ConstantRateState\) must have the fields")
    r = json.loads(json.dumps(record))
    r["state"]["fields"]["direction"]["fields"]["m"]["shape"] = [4]
    cases["a shape that lies"] = (r, arrays, "declares shape \\(4,\\) but its array has shape \\(3,\\)")
    r = json.loads(json.dumps(record))
    r["state"]["fields"]["direction"]["fields"]["m"]["dtype"] = "<f4"
    cases["a dtype that lies"] = (r, arrays, "declares dtype <f4 but its array is <f8")
    cases["an array no field names"] = (record, {**arrays, "extra": np.ones(3)}, "arrays no field of the state names")
    cases["a missing array"] = (record, {"direction.m": arrays["direction.m"]}, "does not hold")
    nested = {"tuple": [None]}
    for _ in range(50):
        nested = {"tuple": [nested]}
    r = json.loads(json.dumps(record))
    r["state"]["fields"]["direction"]["fields"]["t"] = nested
    cases["a deep nesting"] = (r, arrays, "nested more than 8 deep")
    for name, (rec, arrs, why) in cases.items():
        path = _archive(tmp_path / f"{name}.npz", rec, arrs)
        with pytest.raises(ValueError, match=f"is not a readable clara_ref checkpoint: .*{why}"):
            cr.load_state(path)
    # a record nested 100,000 deep cannot even be parsed: a ValueError, not RecursionError
    path = tmp_path / "deep.npz"
    np.savez(path, **{_SCHEMA_KEY: np.array("[" * 100_000 + "]" * 100_000)})
    with pytest.raises(ValueError, match="nested too deeply to read"):
        cr.load_state(path)
    # a declared 10^11-element array in a few bytes: refused from its header, nothing allocated
    path = tmp_path / "huge.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (10**11,)
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("p.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.write(np.zeros(4).tobytes())
        zf.writestr(f"{_SCHEMA_KEY}.npy", _npy(np.array(json.dumps(record))))
    with pytest.raises(ValueError, match=r"member 'p.npy' declares shape \(100000000000,\)"):
        cr.load_state(path)


def _npy(a) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path):
    """A member of 40 MB of zeros deflates to about 40 kB; clara_ref writes uncompressed archives, so a member
    declaring more bytes than the whole archive holds is refused from the central directory."""
    import json
    import zipfile

    from clara_ref.checkpoint import _SCHEMA_KEY

    record, arrays = _parts(cr.sgd(0.1).init(np.ones(3)))
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{_SCHEMA_KEY}.npy", _npy(np.array(json.dumps(record))))
        zf.writestr("pad.npy", _npy(np.zeros(5 * 10**6)))
    assert path.stat().st_size < 200_000
    with pytest.raises(ValueError, match="declare 40,000,.* bytes uncompressed in an archive of"):
        cr.load_state(path)
