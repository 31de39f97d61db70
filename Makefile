# Every target creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-newest lint bench bench-peers format clean browser docs

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "astrum needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

# The documentation site (English and Chinese) into site/; any warning fails the build.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check src tests examples benchmarks
	$(PY) -m ruff format --check src tests examples benchmarks
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(PY) -m ruff format src tests examples benchmarks
	$(PY) -m ruff check --fix src tests examples benchmarks

bench: $(STAMP)
	$(PY) benchmarks/run.py

# Peer orchestrators for side-by-side benchmarks, each in its own virtual environment
# (upstream Astrum has the same import name). flowrun-dag needs Python >= 3.12.
PEERS := benchmarks/.peers
PY312 ?= $(shell for v in 3.13 3.12; do p=$$(PYENV_VERSION=$$(ls -1 $$HOME/.pyenv/versions 2>/dev/null | grep "^$$v" | tail -1) python$$v -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -n "$$p" ] && echo $$p && break; done)

# The suite again on the newest CPython found (3.12+ starts tasks eagerly: a different code path).
test-newest:
	@if [ -z "$(PY312)" ]; then echo "no Python >= 3.12 found; skipping"; \
	elif ! { [ -x .venv-newest/bin/python ] || $(PY312) -m venv .venv-newest; } || \
		! .venv-newest/bin/python -m pip install --quiet -e '.[dev]'; then \
		echo "could not set up .venv-newest with $(PY312); skipping"; \
	else .venv-newest/bin/python -m pytest -q; fi

# Headless Chromium for the HTML run page's rendering test (Debian's package; needs root).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium is installed: /usr/bin/chromium"; \
	else apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; fi

bench-peers:
	$(PYTHON) -m venv $(PEERS)/upstream
	$(PEERS)/upstream/bin/pip install --quiet astrum==0.1.2
	@if [ -n "$(PY312)" ]; then \
		$(PY312) -m venv $(PEERS)/flowrun && $(PEERS)/flowrun/bin/pip install --quiet flowrun-dag; \
	else echo "flowrun-dag needs Python >= 3.12; none found, skipping it"; fi

clean:
	rm -rf $(VENV) .venv-newest dist build site .mypy_cache .ruff_cache
