"""parallel.fork_map: independent work in forked processes of one thread each."""

import os
import time

import pytest
import torch

from pytrain.parallel import fork_map


def work(shared, item, report):
    report((item, os.getpid()))
    if item == "boom":
        raise ValueError("bad item")
    if item == "slow":
        time.sleep(60)
    return shared * item, torch.get_num_threads(), os.getpid()


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_come_back_in_item_order_with_every_report(jobs):
    reports, done = [], []
    out = fork_map(work, [1, 2, 3, 4, 5], jobs, 10, reports.append, lambda i, r: done.append(i))
    assert [r[0] for r in out] == [10, 20, 30, 40, 50]
    assert sorted(item for item, _ in reports) == [1, 2, 3, 4, 5] and sorted(done) == [0, 1, 2, 3, 4]
    pids = {pid for _, _, pid in out}
    if jobs == 1:
        assert pids == {os.getpid()}
    else:
        assert os.getpid() not in pids and len(pids) <= 2 and {threads for _, threads, _ in out} == {1}


def test_a_worker_error_is_raised_here_and_stops_the_other_workers():
    start = time.monotonic()
    with pytest.raises(ValueError, match="bad item"):
        fork_map(work, ["slow", "boom"], 2, 1)
    assert time.monotonic() - start < 30  # the sleeping worker was stopped, not waited for
