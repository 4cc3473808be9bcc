"""Independent trainings spread over CPU cores: forked worker processes of one thread each.

A recurrent layer is a chain of small matrix products that one thread keeps busy; a second
thread shortens each product less than it costs. On this project's 2-core CPU one epoch of the
defaults takes 2.3 s on two threads and 2.1–2.8 s on one thread while another model trains on the
other core, so two models side by side finish in about two thirds of the time of two in turn. `fit`'s
fold models and `compare`'s runs use this; on a GPU they run in turn.

Workers are forked, so they inherit the data (nothing is pickled but the item's index and the
result), and run `fn(shared, item, report)`; `report(message)` reaches the parent, which keeps
the progress bar.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

import torch

# What a worker needs, set before the workers fork and inherited by them.
_STATE: dict[str, Any] = {}


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()  # not on Windows


def jobs_for(device: torch.device, requested: int | None, tasks: int) -> int:
    """How many of `tasks` trainings run at once: `requested`, or by default one per thread
    torch may use, never more than the tasks; one at a time on a GPU or where processes cannot
    fork."""
    if device.type != "cpu" or not can_fork():
        return 1
    return max(1, min(tasks, requested or torch.get_num_threads()))


def fork_map(
    fn: Callable[[Any, Any, Callable[[Any], None]], Any],
    items: Sequence,
    jobs: int,
    shared: Any = None,
    on_report: Callable[[Any], None] | None = None,
    on_done: Callable[[int, Any], None] | None = None,
) -> list:
    """`[fn(shared, item, report) for item in items]`, `jobs` at a time in forked processes of
    one thread each (in this process when `jobs` is 1 or processes cannot fork). Messages
    passed to `report` go to `on_report` here; `on_done(index, result)` is called as each item
    finishes. A worker's error, or an interrupt, stops the other workers and is raised here."""
    report = on_report or (lambda message: None)
    if jobs <= 1 or len(items) <= 1 or not can_fork():
        results = []
        for i, item in enumerate(items):
            results.append(fn(shared, item, report))
            if on_done:
                on_done(i, results[-1])
        return results
    ctx = multiprocessing.get_context("fork")
    queue = ctx.SimpleQueue()
    _STATE.update(fn=fn, items=items, shared=shared, queue=queue)

    def drain() -> None:
        while not queue.empty():
            report(queue.get())

    try:
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            futures = [pool.submit(_call, i) for i in range(len(items))]
            index = {f: i for i, f in enumerate(futures)}
            pending = set(futures)
            try:
                while pending:
                    finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    drain()
                    for f in finished:
                        result = f.result()  # a worker's error surfaces here
                        if on_done:
                            on_done(index[f], result)
            except BaseException:  # an error or an interrupt: stop the other workers now
                # (`_processes` is private; Python 3.14 has `terminate_workers()`)
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.terminate()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            drain()
            return [f.result() for f in futures]
    finally:
        _STATE.clear()


def _call(i: int) -> Any:
    queue = _STATE["queue"]
    return _STATE["fn"](_STATE["shared"], _STATE["items"][i], queue.put)
