"""The dense layers' ReLU (clara_ref.layers.dense_forward, equation M1) as NumPy's maximum against the scalar 0 or
against a row of zeros, side by side in one run.

Both are ``maximum(z, 0)`` entry by entry and give the same bits (tests/test_models.py checks it, special values
included); they differ in NumPy's inner loop: with a scalar operand its float32 maximum does not run the SIMD
loop it runs when both operands advance along the row. Shapes: the digits MLP's hidden layers at minibatches of
32 and 128 and on digits' whole training set (1,437 rows, the per-epoch loss), and the MNIST MLP's first hidden
layer at 128, in float32 and float64; each in place on a copy of its values, as ``dense_forward`` writes it.
Every contender is ``--calls`` calls timed whole; contenders interleaved in an order rotated every round, pinned
to ``--threads`` threads, each the minimum of ``--repeat`` rounds with its spread (``benchmarks/_timing.py``).

Run: ``python benchmarks/relu_maximum.py [--threads 1]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import pinned, race, settle_for

#: (rows, columns) of the pre-activations timed
SHAPES = ((32, 128), (128, 128), (1437, 128), (1437, 64), (128, 256))


def contender(z0, against_row: bool, calls: int):
    """``calls`` in-place ReLUs of a copy of ``z0``: maximum against a row of zeros (made at each call, as
    dense_forward does) or against the scalar 0."""
    z = z0.copy()

    def run():
        for _ in range(calls):
            np.copyto(z, z0)
            if against_row:
                np.maximum(z, np.zeros(z.shape[-1], z.dtype), out=z)
            else:
                np.maximum(z, 0.0, out=z)

    return run


def copy_only(z0, calls: int):
    """The copy that every contender makes before its maximum, alone (subtracted from both)."""
    z = z0.copy()

    def run():
        for _ in range(calls):
            np.copyto(z, z0)

    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200, help="calls per timed contender [200]")
    ap.add_argument("--repeat", type=int, default=9, help="rounds (minimum reported) [9]")
    ap.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS [1]")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    with pinned(args.threads):
        for dtype in (np.float32, np.float64):
            for shape in SHAPES:
                z0 = rng.standard_normal(shape).astype(dtype)
                timed = race({"scalar": contender(z0, False, args.calls), "row": contender(z0, True, args.calls),
                              "copy": copy_only(z0, args.calls)}, args.repeat, settle_for(args.threads))
                rows.append((dtype, shape, timed))
    print(f"numpy {np.__version__}; {args.threads} thread(s); each figure the minimum of {args.repeat} rounds of "
          f"{args.calls} calls, interleaved in rotated order, per call, the copy before each maximum subtracted")
    print()
    print("dtype | z shape | maximum(z, 0) us | maximum(z, zero row) us | scalar / row | spread scalar, row, copy")
    print("---|---|---|---|---|---")
    for dtype, shape, timed in rows:
        copy = timed["copy"][0]
        scalar, row = ((timed[k][0] - copy) / args.calls * 1e6 for k in ("scalar", "row"))
        print(f"{np.dtype(dtype).name} | {shape} | {scalar:.1f} | {row:.1f} | {scalar / row:.1f}x | "
              f"{timed['scalar'][1]:.2f}, {timed['row'][1]:.2f}, {timed['copy'][1]:.2f}")


if __name__ == "__main__":
    main()
