import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures.corpus import write_corpus  # noqa: E402

# The shared course data lives beside the checkout and is never copied into it. Tests that need
# it are marked `course` and skip, with the reason, where it is absent (a fresh clone).
SHARED = ROOT.parent / "shared" / "data"
SHARED_TSV = SHARED / "biotech_news.tsv"
SHARED_CSV = SHARED / "knowledgator_events_biotech_test.csv"

torch.set_num_threads(2)


def pytest_configure(config):
    config.addinivalue_line("markers", "course: needs the course data in ../shared/data (skipped without it)")


def _shared(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is absent: the course data is read from ../shared/data/ (not part of a clone)")
    return path


@pytest.fixture(scope="session")
def biotech_tsv() -> Path:
    return _shared(SHARED_TSV)


@pytest.fixture(scope="session")
def biotech_csv() -> Path:
    return _shared(SHARED_CSV)


@pytest.fixture(scope="session")
def corpus_tsv(tmp_path_factory) -> Path:
    """The synthetic corpus of fixtures/corpus.py: 240 texts, 5 labels predictable from keywords."""
    return write_corpus(tmp_path_factory.mktemp("data") / "corpus.tsv")


@pytest.fixture(scope="session")
def device() -> torch.device:
    """Where the model tests run: cpu, or cuda with PYTRAIN_TEST_DEVICE=cuda (benchmarks/gpu_check.sh)."""
    name = os.environ.get("PYTRAIN_TEST_DEVICE", "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        pytest.fail("PYTRAIN_TEST_DEVICE=cuda but no CUDA device is available")
    return torch.device(name)
