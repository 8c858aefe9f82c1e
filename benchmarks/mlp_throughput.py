"""Training throughput: clara_ref (NumPy) against an equivalent PyTorch CPU loop in the CLARA authors' style
(TensorDataset + DataLoader(shuffle=True), nn.Linear/nn.ReLU, CrossEntropyLoss, torch.optim.Adam), side by side.

Workloads: softmax regression on iris and digits (100 epochs, batch 128, Adam 1e-2) and the digits MLP 64-128-64-10
(batch 128 and batch 32, ``--mlp-epochs`` epochs each, Adam 1e-3). torch runs in float32 (its default);
clara_ref runs in float64 (its default) and in float32 (``train(..., dtype=np.float32)``, the same precision as
torch). Both evaluate the full training loss and the test accuracy once per epoch. Freed memory is kept for the
next step (``clara_ref.allocator``, both sides, as ``reproduce``'s workers run; ``--glibc-defaults`` without).
Run: ``python benchmarks/mlp_throughput.py [--glibc-defaults]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import clara_ref as cr


def ours(dataset, sizes, epochs, batch, lr, dtype=np.float64):
    data = cr.data.load(dataset, seed=0)
    model = cr.models.mlp(sizes) if len(sizes) > 2 else cr.models.softmax_regression(*sizes)
    t0 = time.perf_counter()
    r = cr.train(model, cr.adam(lr), data, epochs=epochs, batch_size=batch, seed=0, dtype=dtype)
    return time.perf_counter() - t0, r.test_accuracy[-1]


def theirs(dataset, sizes, epochs, batch, lr):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    X, y, Xt, yt = cr.data.load(dataset, seed=0)
    loader = DataLoader(TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y)), batch_size=batch,
                        shuffle=True)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        model.eval()                           # per-epoch evaluation, as our loop records
        with torch.no_grad():
            full = loss_fn(model(torch.tensor(X, dtype=torch.float32)), torch.tensor(y)).item()
            acc = (model(torch.tensor(Xt, dtype=torch.float32)).argmax(1).numpy() == yt).mean()
    assert np.isfinite(full)
    return time.perf_counter() - t0, float(acc)


def main(argv=None):
    ap = argparse.ArgumentParser(description="NumPy training loop against a PyTorch DataLoader loop")
    ap.add_argument("--mlp-epochs", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--glibc-defaults", action="store_true", help="keep glibc's malloc thresholds (by default freed "
                    "memory is kept for the next step, clara_ref.allocator, as reproduce's workers do)")
    args = ap.parse_args(argv)
    import torch

    from clara_ref.allocator import keep_freed_memory

    kept = False if args.glibc_defaults else keep_freed_memory()
    torch.set_num_threads(2)
    print(f"numpy {np.__version__}, torch {torch.__version__}; best of {args.repeat}; freed memory kept "
          f"(clara_ref.allocator): {'yes' if kept else 'no'}")
    work = [("iris softmax", "iris", (4, 3), 100, 128, 1e-2), ("digits softmax", "digits", (64, 10), 100, 128, 1e-2),
            ("digits MLP b128", "digits", (64, 128, 64, 10), args.mlp_epochs, 128, 1e-3),
            ("digits MLP b32", "digits", (64, 128, 64, 10), args.mlp_epochs, 32, 1e-3)]
    print("workload | epochs | clara_ref f64 s | clara_ref f32 s | torch f32 s | speed-up f64 | speed-up f32 | "
          "acc ours f64 | acc torch")
    print("---|---|---|---|---|---|---|---|---")
    for label, ds, sizes, epochs, batch, lr in work:
        a, a32, b = [], [], []
        for _ in range(args.repeat):           # interleaved, so a slow phase of the machine hits all three
            a.append(ours(ds, sizes, epochs, batch, lr))
            a32.append(ours(ds, sizes, epochs, batch, lr, np.float32))
            b.append(theirs(ds, sizes, epochs, batch, lr))
        a, a32, b = (min(x, key=lambda r: r[0]) for x in (a, a32, b))
        print(f"{label} | {epochs} | {a[0]:.2f} | {a32[0]:.2f} | {b[0]:.2f} | {b[0] / a[0]:.1f}x | "
              f"{b[0] / a32[0]:.1f}x | {a[1]:.3f} | {b[1]:.3f}")


if __name__ == "__main__":
    main()
