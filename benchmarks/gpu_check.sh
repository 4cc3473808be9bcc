#!/usr/bin/env bash
# One prepared run for a machine with a CUDA GPU: the model tests on CUDA, the layer benchmark
# (hand-written vs torch.nn, attention at T = 128..1024) and the quick comparison on CUDA.
# Usage: bash benchmarks/gpu_check.sh [DATA.tsv]    (after `make setup`; prints one log to stdout)
# DATA defaults to the full course file where present (data/ travels with the work tree; ../shared
# does not reach a lent machine), else the 381-article sample.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${1:-$(ls data/biotech_news_course.tsv ../shared/data/biotech_news_course.tsv ../shared/data/biotech_news.tsv 2>/dev/null | head -1)}
echo "data: $DATA"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"
echo "== model tests on CUDA"
PYTRAIN_TEST_DEVICE=cuda $PY -m pytest -q tests/test_models.py tests/test_attention.py
echo "== layers: forward + backward per batch (B 64, E 100, H 128)"
$PY benchmarks/train_bench.py --device cuda --lengths 128 256 512 1024 --repeats 5
echo "== compare --quick on CUDA"
$PY -m pytrain compare --quick --device cuda --data "$DATA" --name "gpu-check-$(date +%Y%m%d-%H%M%S)"
