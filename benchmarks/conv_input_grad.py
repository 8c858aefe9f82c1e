"""The input gradient of the paper's CNN convolutions (clara_ref.cnn.conv3x3_backward, equation N5) by the number of
images per pass (``clara_ref.cnn.CHUNK``), side by side in one run.

For conv2 (32 -> 64 channels at 32 x 32) and conv3 (64 -> 128 at 16 x 16) at batch 128, float32, on random values:
the backward pass with its input gradient, CHUNK set to each of ``--chunks`` (128 is the whole batch in one pass,
the form before the chunks). The weight and bias gradients are in every contender alike, so the
differences are the input gradient's. The contenders are interleaved in an order rotated every round, pinned to
``--threads`` threads, each the minimum of ``--repeat`` calls with its spread (``benchmarks/_timing.py``); freed
memory is kept (``clara_ref.allocator``), as in ``reproduce``'s workers. The float32 GEMM peak is in the header.

Run: ``python benchmarks/conv_input_grad.py [--threads 1]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import gemm_peak, pinned, race, settle_for

from clara_ref import cnn
from clara_ref.allocator import keep_freed_memory

#: (input shape channels-last, output channels) of the two convolutions whose input gradient is computed
LAYERS = {"conv2": ((128, 32, 32, 32), 64), "conv3": ((128, 16, 16, 64), 128)}


def contender(x_shape, out_channels, chunk, rng):
    """One backward pass of a convolution with its input gradient, ``chunk`` images per pass of (N5)."""
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((out_channels, x_shape[3], 3, 3)).astype(np.float32)
    z, cols = cnn.conv3x3_forward(x, w, np.zeros(out_channels, np.float32))
    dz = rng.standard_normal(z.shape).astype(np.float32)

    def run():
        saved = cnn.CHUNK
        cnn.CHUNK = chunk
        try:
            cnn.conv3x3_backward(dz, cols, w, x_shape)
        finally:
            cnn.CHUNK = saved

    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, nargs="+", default=[128, 32, 16, 8, 4], help="images per pass [128 32 16 "
                    "8 4]; 128 is the whole batch")
    ap.add_argument("--repeat", type=int, default=7, help="timed calls per contender (minimum) [7]")
    ap.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS [1]")
    args = ap.parse_args(argv)
    kept = keep_freed_memory()
    rng = np.random.default_rng(0)
    with pinned(args.threads):
        peak = gemm_peak()
        rows = []
        for name, (shape, out) in LAYERS.items():
            timed = race({c: contender(shape, out, c, rng) for c in args.chunks}, args.repeat,
                         settle_for(args.threads))
            rows.append((name, shape, out, timed))
    print(f"numpy {np.__version__}; {args.threads} thread(s); float32, batch 128, minimum of {args.repeat} calls "
          f"interleaved in rotated order; float32 GEMM peak {peak:.0f} GFLOP/s; freed memory kept "
          f"(clara_ref.allocator): {'yes' if kept else 'no'}; clara_ref.cnn.CHUNK = {cnn.CHUNK}")
    print()
    header = ["layer", "input (B, H, W, C)", "out channels"] + [f"{c} images ms" for c in args.chunks] + \
        ["spread (max/min)"]
    print(" | ".join(header))
    print("|".join(["---"] * len(header)))
    for name, shape, out, timed in rows:
        print(" | ".join([name, str(shape), str(out)] + [f"{timed[c][0] * 1e3:.1f}" for c in args.chunks] +
                         [", ".join(f"{timed[c][1]:.2f}" for c in args.chunks)]))


if __name__ == "__main__":
    main()
