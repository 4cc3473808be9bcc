"""The reference script beside the models (benchmarks/baseline_tfidf.py): bad options stop as one
line with status 2, and both feature sets learn the synthetic corpus's keywords."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "baseline_tfidf.py"


def baseline(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--folds", "1"], "--folds 1: must be at least 2"),
        (["--C", "0"], "--C 0.0: must be a positive number"),
        (["--C", "inf"], "--C inf: must be a positive number"),
        (["--nested", "1"], "--nested 1: must be at least 2"),
        (["--seeds", "0,x"], "--seeds '0,x': must be integers joined by commas"),
        (["--seeds", "-1"], "--seeds '-1': each seed must be in [0, 2**32)"),
        (["--features", "bigrams"], "invalid choice: 'bigrams'"),
        (["--folds", "many"], "invalid int value: 'many'"),
        (["--data", "/nonexistent/corpus.tsv"], "no data file found (looked at /nonexistent/corpus.tsv)"),
    ],
)
def test_bad_option_is_one_line(args, message):
    r = baseline(*args)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and message in r.stderr, r.stderr


@pytest.mark.parametrize("features", ["words", "words+chars"])
def test_reference_learns_keywords(corpus_tsv, features):
    r = baseline("--data", str(corpus_tsv), "--seeds", "0", "--features", features)
    assert r.returncode == 0, r.stderr
    every = float(re.search(r"predict every label: test macro F1 ([0-9.]+)", r.stdout).group(1))
    scores = [float(s) for s in re.findall(r"thresholds global\s+([0-9.]+)", r.stdout)]
    # The synthetic labels follow keywords: a working reference is far above predicting everything.
    assert len(scores) == 2 and min(scores) > every + 0.3, r.stdout
