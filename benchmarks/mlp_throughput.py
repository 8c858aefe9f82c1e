"""Training throughput: clara_ref (NumPy) against an equivalent PyTorch CPU loop in the CLARA authors' style
(TensorDataset + DataLoader(shuffle=True), nn.Linear/nn.ReLU, CrossEntropyLoss, torch.optim.Adam), side by side.

Workloads: softmax regression on iris and digits (100 epochs, batch 128, Adam 1e-2) and the digits MLP 64-128-64-10
(batch 128 and batch 32, ``--mlp-epochs`` epochs each, Adam 1e-3). torch runs in float32 (its default);
clara_ref runs in float64 (its default) and in float32 (``train(..., dtype=np.float32)``, the same precision as
torch), and in float32 with Adam's fused form (``adam(lr, fused=True)``). Both evaluate the full training loss
and the test accuracy once per epoch. Raced with them, "products alone" runs every matrix product of the float32
run in its shapes and nothing else: torch's time over it bounds the speed-up any NumPy run of the same products can
show; "products + literal Adam" adds, after each minibatch's products, the literal Adam's whole update (its five
lines, the move and its checks, which the reference keeps): torch's time over it bounds the speed-up of any run that
computes the same products and updates with the reference's Adam. Freed memory is kept for the next step
(``clara_ref.allocator``, both sides, as ``reproduce``'s workers run; ``--glibc-defaults`` without).
Whole runs are the contenders: interleaved, in an order rotated every round, both sides pinned to ``--threads``
threads (on more than one, each timed run comes after 0.2 s of untimed runs of the same contender, so that the
other side's worker threads have gone idle); each figure is the minimum of ``--repeat`` rounds with the spread
(max / min) beside it, and the machine's float32 GEMM peak is in the header (``benchmarks/_timing.py``).
Run: ``python benchmarks/mlp_throughput.py [--threads 1] [--glibc-defaults]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import gemm_peak, pinned, race, settle_for, torch_threads

import clara_ref as cr


def model_of(sizes):
    """The clara_ref model of ``sizes``: softmax regression for (inputs, classes), else the ReLU MLP."""
    return cr.models.mlp(sizes) if len(sizes) > 2 else cr.models.softmax_regression(*sizes)


def ours(dataset, sizes, epochs, batch, lr, dtype, acc, fused=False):
    """A contender: one whole clara_ref training run (data loaded once, outside the timed call); the last test
    accuracy goes to ``acc``. ``fused``: Adam's fused form (``adam(lr, fused=True)``) instead of the literal one."""
    data = cr.data.load(dataset, seed=0)
    model = model_of(sizes)

    def run():
        acc.append(cr.train(model, cr.adam(lr, fused=fused), data, epochs=epochs, batch_size=batch, seed=0,
                            dtype=dtype).test_accuracy[-1])

    return run


def products(dataset, sizes, epochs, batch, lr=None):
    """A contender: every matrix product of one clara_ref float32 run in its shapes, on random values, and nothing
    else: per minibatch (the last one shorter) each layer's forward product, its weight gradient and, for all but
    the first layer, its input gradient (clara_ref.layers); per epoch, and once before training, the forward
    products on the whole training and test sets (the recorded loss and accuracy). Its time is what the run would
    take if everything else were free: the floor below which no speed-up can take clara_ref's run.

    With ``lr``, each minibatch's products are followed by the literal Adam's whole update (``cr.adam(lr)``: its
    five lines, the move and its checks, which the reference keeps) on a fixed gradient of the model's size: the
    floor of any run that computes these products and updates with the literal Adam."""
    X, _, Xt, _ = cr.data.load(dataset, seed=0)
    rng = np.random.default_rng(0)

    def shapes(rows, backward):
        out = []
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            x, w, dz = (rng.standard_normal(s).astype(np.float32) for s in ((rows, a), (a, b), (rows, b)))
            out.append((x, w))
            if backward:
                out += [(x.T, dz)] + ([(dz, w.T)] if k else [])
        return out

    full, last = divmod(X.shape[0], batch)
    steps = [shapes(rows, True) for rows in [batch] * full + ([last] if last else [])]
    evaluation = shapes(X.shape[0], False) + shapes(Xt.shape[0], False)
    n = model_of(sizes).n_params
    optimizer = None if lr is None else cr.adam(lr)
    g = rng.standard_normal(n).astype(np.float32) * 1e-2

    def run():
        theta = np.zeros(n, np.float32)
        state = None if optimizer is None else optimizer.init(theta)
        for x, w in evaluation:
            x @ w
        for _ in range(epochs):
            for step in steps:
                for x, w in step:
                    x @ w
                if optimizer is not None:
                    theta, state = optimizer.update(theta, g, state)
            for x, w in evaluation:
                x @ w

    return run


def theirs(dataset, sizes, epochs, batch, lr, acc):
    """A contender: one whole training run of the authors-style torch loop (tensors made once, outside the timed
    call; the model, optimizer and DataLoader are built inside it, as a run would)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    X, y, Xt, yt = cr.data.load(dataset, seed=0)
    Xf, yf, Xtf = torch.tensor(X, dtype=torch.float32), torch.tensor(y), torch.tensor(Xt, dtype=torch.float32)

    def run():
        torch.manual_seed(0)
        loader = DataLoader(TensorDataset(Xf, yf), batch_size=batch, shuffle=True)
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(epochs):
            model.train()
            for xb, yb in loader:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
            model.eval()                           # per-epoch evaluation, as our loop records
            with torch.no_grad():
                full = loss_fn(model(Xf), yf).item()
                correct = (model(Xtf).argmax(1).numpy() == yt).mean()
        assert np.isfinite(full)
        acc.append(float(correct))

    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description="NumPy training loop against a PyTorch DataLoader loop")
    ap.add_argument("--mlp-epochs", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="rounds per contender (minimum reported) [3]")
    ap.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and torch alike [1]")
    ap.add_argument("--glibc-defaults", action="store_true", help="keep glibc's malloc thresholds (by default freed "
                    "memory is kept for the next step, clara_ref.allocator, as reproduce's workers do)")
    args = ap.parse_args(argv)
    import torch

    from clara_ref.allocator import keep_freed_memory

    kept = False if args.glibc_defaults else keep_freed_memory()
    work = [("iris softmax", "iris", (4, 3), 100, 128, 1e-2), ("digits softmax", "digits", (64, 10), 100, 128, 1e-2),
            ("digits MLP b128", "digits", (64, 128, 64, 10), args.mlp_epochs, 128, 1e-3),
            ("digits MLP b32", "digits", (64, 128, 64, 10), args.mlp_epochs, 32, 1e-3)]
    rows = []
    with pinned(args.threads):                     # benchmarks/_timing.py: NumPy's BLAS and torch alike
        peak, threads_note = gemm_peak(), torch_threads()
        for label, ds, sizes, epochs, batch, lr in work:
            acc = {"f64": [], "f32": [], "torch": []}
            acc["fused"] = []
            timed = race({"f64": ours(ds, sizes, epochs, batch, lr, np.float64, acc["f64"]),
                          "f32": ours(ds, sizes, epochs, batch, lr, np.float32, acc["f32"]),
                          "fused": ours(ds, sizes, epochs, batch, lr, np.float32, acc["fused"], fused=True),
                          "products": products(ds, sizes, epochs, batch),
                          "products+adam": products(ds, sizes, epochs, batch, lr),
                          "torch": theirs(ds, sizes, epochs, batch, lr, acc["torch"])}, args.repeat,
                         settle=settle_for(args.threads))   # the other side's worker threads go idle
            rows.append((label, epochs, timed, acc))
    print(f"numpy {np.__version__}, torch {torch.__version__}; {args.threads} thread(s) for NumPy's BLAS and torch "
          f"({threads_note}); whole runs, minimum of {args.repeat} interleaved rounds in rotated order; float32 "
          f"GEMM peak {peak:.0f} GFLOP/s; freed memory kept (clara_ref.allocator): {'yes' if kept else 'no'}")
    print()
    print("workload | epochs | clara_ref f64 s | clara_ref f32 s | clara_ref f32 fused s | torch f32 s | "
          "speed-up f64 | speed-up f32 | speed-up f32 fused | products alone s | speed-up at that floor | "
          "products + literal Adam s | speed-up at that floor | spread (max/min) f64, f32, fused, torch | "
          "acc ours f64 | acc torch")
    print("---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---")
    for label, epochs, timed, acc in rows:
        (a, sa), (a32, s32), (af, sf), (b, sb) = timed["f64"], timed["f32"], timed["fused"], timed["torch"]
        floor, with_adam = timed["products"][0], timed["products+adam"][0]
        print(f"{label} | {epochs} | {a:.3f} | {a32:.3f} | {af:.3f} | {b:.3f} | {b / a:.1f}x | {b / a32:.1f}x | "
              f"{b / af:.1f}x | {floor:.3f} | {b / floor:.1f}x | {with_adam:.3f} | {b / with_adam:.1f}x | "
              f"{sa:.2f}, {s32:.2f}, {sf:.2f}, {sb:.2f} | "
              f"{acc['f64'][-1]:.3f} | {acc['torch'][-1]:.3f}")
    print()
    print("products alone: every matrix product of the clara_ref float32 run in its shapes and nothing else (the "
          "training steps and the per-epoch evaluations); torch's time over it is the largest speed-up any NumPy "
          "run that computes the same products can show; products + literal Adam: the same products and, after each "
          "minibatch's, the literal Adam's whole update (its five lines, the move and its checks) on a fixed "
          "gradient: the largest speed-up any run with these products and the reference's Adam can show")


if __name__ == "__main__":
    main()
