"""Peak memory of a block of work, on CPU or CUDA (used by `fit`, `compare` and the benchmarks)."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

import torch

# The kernel's view of this process's memory on Linux (procfs, not a file of the user's):
# the second field is the resident set size in pages. Elsewhere it does not exist.
_STATM = Path("/proc/self/statm")


def rss_mb() -> float | None:
    """This process's resident memory now, in MiB (None where the system does not say)."""
    try:
        return int(_STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return None


class PeakMemory:
    """Peak memory used by a block, above what was in use when it started: the CUDA
    allocator's peak on a GPU; on CPU the highest resident set size seen by a thread that
    samples it every 10 ms (the process's peak RSS where the system does not report it)."""

    def __init__(self, device: torch.device):
        self.device, self.peak_mb, self._stop = device, 0.0, threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self._top = max(self._top, rss_mb() or 0.0)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        elif (rss := rss_mb()) is not None:
            self._base = self._top = rss
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
        elif self._thread is None:
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = self._top - self._base
