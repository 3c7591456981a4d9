# Two commands for a fresh machine: `make demo` and `make test`.
# Both create or update the virtualenv in .venv first; `make test` also installs the
# Debian packages the tests compare against (tshark, libpcap) when it can.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SYSTEM := $(VENV)/.system-packages
# What the tests use from Debian: tshark (the flow sensor's reference), libpcap (BPF
# filters for live capture), a Times New Roman metric-compatible serif with Vietnamese
# (Liberation 2), poppler's pdftotext/pdftoppm (the report PDFs are read back) and headless
# Chromium with its driver (the web console's browser tests).
DEBIAN_PACKAGES := tshark libpcap0.8 fonts-liberation2 poppler-utils chromium chromium-driver

.PHONY: demo test test-nightly lint bench clean venv system-packages

venv: $(STAMP)

# Reinstall when the project's dependencies change.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Installs the Debian packages when this user may (root, or sudo without a password);
# otherwise the tests that need them skip and name the command to run.
$(SYSTEM): | $(STAMP)
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    ($$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install$$missing; the tests that need them will skip"; \
	  else \
	    echo "note: not installing$$missing (needs root); the tests that need them skip." \
	         "To run them: sudo apt-get install$$missing"; \
	  fi; \
	fi
	@touch $(SYSTEM)

system-packages: $(SYSTEM)

demo: $(STAMP)
	$(VENV)/bin/phiwatch demo

# pytest exits 5 when it collected nothing: say so loudly instead of failing the build.
test: $(STAMP) $(SYSTEM)
	@$(PY) -m pytest -q; s=$$?; \
	if [ $$s -eq 5 ]; then echo "WARNING: pytest collected no tests"; exit 0; fi; exit $$s

# The property tests with many more generated cases (run nightly, not on every change).
test-nightly: $(STAMP) $(SYSTEM)
	HYPOTHESIS_PROFILE=nightly $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/his_throughput.py
	$(PY) bench/his_latency.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
