"""Every optimizer reproduces its pinned trajectories to float64 rounding (tests/data/make_pinned_trajectories.py
recorded them; on the recording machine ALeRA with the SGD direction agrees bit for bit), so a change of the code
that moves any number is seen."""

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "data"))
import make_pinned_trajectories as pinned  # noqa: E402

RECORD = np.load(pathlib.Path(__file__).parent / "data" / "pinned_trajectories.npz")


@pytest.mark.parametrize("name", list(pinned.CONFIGS))
@pytest.mark.parametrize("seed", pinned.SEEDS)
def test_trajectory_matches_the_record(name, seed):
    theta, eta = pinned.run(pinned.CONFIGS[name](), pinned.gradients(seed))
    # Every block norm is a BLAS dot product, whose summation order depends on the CPU kernel OpenBLAS picks
    # (Haswell, SkylakeX, Zen, ...): on another machine than the one that recorded the file each norm may differ in
    # its last bit (even for ALeRA with SGD, whose operations did not change). Each step rounds by ~1e-16, and 80
    # steps of exp(C (|p|^2 - mu)/sigma) or exp(d (P/ref - 1)) and Adam's division carry it along, so 1e-12 relative
    # leaves four orders of magnitude of room while any change of the rule (a constant, an index) moves the
    # trajectory by far more (tests/test_alera.py and tests/test_clara.py plant such bugs).
    np.testing.assert_allclose(theta, RECORD[f"{name}_s{seed}_theta"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(eta, RECORD[f"{name}_s{seed}_eta"], rtol=1e-12)
