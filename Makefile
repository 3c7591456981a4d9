# Two commands for a fresh machine: `make demo` and `make test`.
# Both create or update the virtualenv in .venv first.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean venv

venv: $(STAMP)

# Reinstall when the project's dependencies change.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/phiwatch demo

# pytest exits 5 when it collected nothing: say so loudly instead of failing the build.
test: $(STAMP)
	@$(PY) -m pytest -q; s=$$?; \
	if [ $$s -eq 5 ]; then echo "WARNING: pytest collected no tests"; exit 0; fi; exit $$s

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/his_throughput.py
	$(PY) bench/his_latency.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
