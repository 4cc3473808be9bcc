"""Peak memory of `predict` on one huge text against one short text, each in its own process.

    python benchmarks/predict_memory.py --run runs/<name> [--words 1000000]

`predict` cuts each text to the run's length limit (its --max-len, or its longest training text)
while cleaning and batches by a token budget, so a huge input costs about what its raw string
costs. Peak memory is the process's peak resident set size (ru_maxrss) after the run was loaded
and warmed on a short text, so imports and weights count the same on both sides.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = """
import json, resource, sys, time
from pytrain.predict import probabilities
from pytrain.runs import load_run
run = load_run(sys.argv[1])
probabilities(run, ["warm up"])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
words = int(sys.argv[2])
sentence = "company announced approval of the new drug trial"
text = " ".join([sentence] * (words // 8)) if words > 8 else "new drug approval"
start = time.perf_counter()
probabilities(run, [text])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mb": before, "peak_mb": peak, "seconds": seconds, "text_mb": len(text) / 2**20}))
"""


def measure(run: str, words: int) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, run, str(words)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--words", type=int, default=1_000_000)
    args = p.parse_args()
    start = time.perf_counter()
    short, huge = measure(args.run, 3), measure(args.run, args.words)
    print(f"{'input':<22}{'text MB':>9}{'peak MB':>9}{'s':>8}")
    print(f"{'one short text':<22}{short['text_mb']:>9.2f}{short['peak_mb']:>9.0f}{short['seconds']:>8.3f}")
    print(f"{f'one {args.words:,}-word text':<22}{huge['text_mb']:>9.2f}{huge['peak_mb']:>9.0f}{huge['seconds']:>8.3f}")
    print(f"difference: {huge['peak_mb'] - short['peak_mb']:.0f} MB ({time.perf_counter() - start:.0f}s in all)")


if __name__ == "__main__":
    main()
