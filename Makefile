# mcvision — `make test` and `make demo` build .venv from nothing when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo lint bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	$(PY) -m pip check
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks app_streamlit
	$(VENV)/bin/ruff format --check src tests benchmarks app_streamlit
	$(VENV)/bin/mypy  # the files in pyproject.toml [tool.mypy]

test: lint
	$(PY) -m pytest

demo: $(STAMP)
	$(VENV)/bin/mcvision demo

bench: $(STAMP)
	$(PY) benchmarks/vision_bench.py --json

clean-venv:
	rm -rf $(VENV)
