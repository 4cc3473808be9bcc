from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# The shared data lives beside the checkout and is never copied into it.
SHARED_TSV = ROOT.parent / "shared" / "data" / "biotech_news.tsv"
SHARED_CSV = ROOT.parent / "shared" / "data" / "knowledgator_events_biotech_test.csv"

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def biotech_tsv() -> Path:
    if not SHARED_TSV.is_file():
        pytest.fail(f"{SHARED_TSV} is missing: the tests read the course data from ../shared/data/")
    return SHARED_TSV


@pytest.fixture(scope="session")
def biotech_csv() -> Path:
    if not SHARED_CSV.is_file():
        pytest.fail(f"{SHARED_CSV} is missing: the tests read the course data from ../shared/data/")
    return SHARED_CSV


@pytest.fixture(scope="session")
def device() -> torch.device:
    """Where the model tests run: cpu, or cuda with PYTRAIN_TEST_DEVICE=cuda (benchmarks/gpu_check.sh)."""
    import os

    name = os.environ.get("PYTRAIN_TEST_DEVICE", "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        pytest.fail("PYTRAIN_TEST_DEVICE=cuda but no CUDA device is available")
    return torch.device(name)
