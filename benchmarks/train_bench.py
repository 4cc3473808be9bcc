"""Forward + backward time per batch and peak memory of the hand-written layers, side by
side with torch.nn.RNN / torch.nn.LSTM, in one run (batch 64, embedding 100, hidden 128).

    python benchmarks/train_bench.py                          # T = 128 and 512, one CPU thread
    python benchmarks/train_bench.py --lengths 128 256 512 1024 --models lstm attn
    python benchmarks/train_bench.py --device cuda

Each cell runs in a fresh process. The loss is the mean of the outputs of every step, as in
`fit` (mean pooling), and the CPU flushes denormal floats to zero: with a loss on the last step
only, random weights make the gradient decay through the steps into denormal numbers, which
slow backward several times over on x86 CPUs and would measure the denormals, not the cells.
Peak memory is what the forward + backward added on top of the model and inputs: on CPU the
rise of the process's peak resident memory, on CUDA torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

MODELS = ("torch-rnn", "rnn", "torch-lstm", "lstm", "attn")
REFERENCE = {"rnn": "torch-rnn", "lstm": "torch-lstm", "attn": "torch-lstm"}


def child(model: str, T: int, B: int, E: int, H: int, device: str, threads: int, repeats: int) -> dict:
    import resource

    import torch
    from torch import nn

    from pytrain.measure import rss_mb
    from pytrain.models.attention import AttentionLSTMLayer
    from pytrain.models.lstm import LSTMLayer
    from pytrain.models.rnn import RNNLayer

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    dev = torch.device(device)
    layer = {
        "torch-rnn": lambda: nn.RNN(E, H, batch_first=True),
        "torch-lstm": lambda: nn.LSTM(E, H, batch_first=True),
        "rnn": lambda: RNNLayer(E, H),
        "lstm": lambda: LSTMLayer(E, H),
        "attn": lambda: AttentionLSTMLayer(E, H),
    }[model]().to(dev)
    x = torch.randn(B, T, E, device=dev, requires_grad=True)
    valid = torch.ones(B, T, dtype=torch.bool, device=dev)

    def step() -> None:
        if model.startswith("torch-"):
            out = layer(x)[0]
        elif model == "attn":
            out = layer(x, valid)
        else:
            out = layer(x)
        out.mean().backward()
        layer.zero_grad(set_to_none=True)
        x.grad = None

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = rss_mb()
    step()  # warm-up (counted for memory: later steps reuse what it allocated)
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    if dev.type == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return {"ms": 1000 * statistics.median(times), "peak_mb": max(peak, 0.0)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(**json.loads(sys.argv[2]))))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--embed", type=int, default=100)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    models = list(args.models)
    for m in list(models):  # always measure the reference next to what is compared with it
        ref = REFERENCE.get(m)
        if ref and ref not in models:
            models.insert(models.index(m), ref)
    import torch

    cpu = torch.backends.cpu.get_cpu_capability()
    print(
        f"torch {torch.__version__} (CPU capability {cpu}), batch {args.batch}, embedding {args.embed}, "
        f"hidden {args.hidden}, device {args.device}, {args.threads} thread(s), median of {args.repeats}; "
        "loss: mean over all steps; denormals flushed to zero"
    )
    print(f"{'model':<12}{'T':>6}{'ms/batch':>12}{'x ref':>8}{'peak MB':>10}")
    for T in args.lengths:
        results = {}
        for m in models:
            cell = {
                "model": m,
                "T": T,
                "B": args.batch,
                "E": args.embed,
                "H": args.hidden,
                "device": args.device,
                "threads": args.threads,
                "repeats": args.repeats,
            }
            cmd = [sys.executable, __file__, "--child", json.dumps(cell)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{m:<12}{T:>6}  failed: {(r.stderr.strip().splitlines() or ['?'])[-1][:90]}", flush=True)
                continue
            results[m] = res = json.loads(r.stdout.strip().splitlines()[-1])
            ref = results.get(REFERENCE.get(m, ""))
            ratio = f"{res['ms'] / ref['ms']:>8.2f}" if ref else f"{'':>8}"
            print(f"{m:<12}{T:>6}{res['ms']:>12.1f}{ratio}{res['peak_mb']:>10.0f}", flush=True)
    print("\nx ref: time relative to torch.nn.RNN (rnn) or torch.nn.LSTM (lstm, attn) at the same length.")


if __name__ == "__main__":
    main()
