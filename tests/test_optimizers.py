"""Every optimizer holds its hyperparameters once, in its dataclass fields: the factory is the class (or builds it),
``hyperparameters()`` reads the fields back, and an optimizer rebuilt from them is the same optimizer."""

import dataclasses

import numpy as np
import pytest

import clara_ref as cr

OPTIMIZERS = [
    cr.sgd(0.1, weight_decay=0.01),
    cr.adam(1e-3, beta1=0.8),
    cr.clara(cr.adam_direction(eps=1e-6), 1e-3, d="auto", move="unit", blocks=[2, 3], eta_max=1.0),
    cr.alera(cr.sgd_direction(), 0.1, C=0.3, blocks=(2, 3), sigma="2017"),
    cr.salera(cr.adam_direction(), 0.1, mbratio=0.5, ph_threshold=2.0),
    cr.dadapt_sgd(d0=1e-3, momentum=0.5),
    cr.dadapt_adam(d0=1e-3, decouple=True),
    cr.prodigy(d0=1e-3, beta3=0.9),
]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: o.name)
def test_hyperparameters_are_the_fields(opt):
    fields = {f.name: getattr(opt, f.name) for f in dataclasses.fields(opt)}
    hp = opt.hyperparameters()
    for name, value in fields.items():
        if name == "direction":
            assert {k: hp[k] for k in value.hyperparameters()} == value.hyperparameters()
        else:
            assert hp[name] == value
    # the same fields build the same optimizer, which moves the same way
    twin = type(opt)(**fields)
    assert twin == opt and hash(twin) == hash(opt) and repr(twin) == repr(opt)
    theta, g = np.linspace(-1, 1, 5), np.array([0.5, -1.0, 2.0, 0.1, -0.3])
    a, _ = opt.update(theta, g, opt.init(theta), loss=1.0)
    b, _ = twin.update(theta, g, twin.init(theta), loss=1.0)
    np.testing.assert_array_equal(a, b)


def test_fields_are_validated_and_normalised():
    opt = cr.clara(cr.sgd_direction(), 1, blocks=[2, 3])
    assert opt.eta0 == 1.0 and isinstance(opt.eta0, float) and opt.blocks == (2, 3)
    with pytest.raises(ValueError, match="beta3"):
        cr.prodigy(beta3=1.5)
    with pytest.raises(ValueError, match="decouple must be True or False"):
        cr.dadapt_adam(decouple="yes")
    with pytest.raises(dataclasses.FrozenInstanceError):
        opt.eta0 = 2.0
