# Quick start:  make fit   (set up everything, then train on the default data)
#               make test  (Rust and Python tests)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: setup fit test lint bench clean

# Virtual environment + both packages, editable: bpe_rs (its Rust extension built by maturin)
# and pytrain. Rebuilt when the Rust sources or the package metadata change.
$(STAMP): pyproject.toml bpe_rs/pyproject.toml Cargo.toml bpe_rs/Cargo.toml $(wildcard bpe_rs/src/*.rs)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./bpe_rs -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

fit: setup
	$(PY) -m pytrain fit $(ARGS)

test: setup
	cargo test --quiet
	$(PY) -m pytest -q

lint: setup
	cargo fmt --check
	cargo clippy --quiet --all-targets --features python -- -D warnings
	$(VENV)/bin/ruff check pytrain tests benchmarks bpe_rs/python bpe_rs/tests
	$(VENV)/bin/ruff format --check pytrain tests benchmarks bpe_rs/python bpe_rs/tests

bench: setup
	$(PY) benchmarks/bpe_bench.py
	$(PY) benchmarks/train_bench.py

clean:
	rm -rf $(VENV) target
