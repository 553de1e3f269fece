# Thin targets over the rl-course command. Each creates .venv and installs the project on first use.
PYTHON ?= python3
# The CPU build of torch this course is tested with; override for another build, e.g. TORCH='torch --index-url ...'.
TORCH  ?= torch==2.13.0
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DIR    ?= submitted
JOBS   ?= 1
OPEN   ?=
SOLVED ?=

.PHONY: install demo test test-fast lint release release-check grade feedback student-edition hub bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH) -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/rl-course train --env CartPole-v1
	$(BIN)/rl-course demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The library and unit tests: no notebook executed or graded, no training to a threshold, no server or browser.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not notebook and not hub"

# ruff (pyproject.toml's [tool.ruff]) over the library, tests, benchmarks and notebooks (solutions/, notebooks/, lecture/).
lint: $(STAMP)
	$(BIN)/ruff check .

release: $(STAMP)
	$(BIN)/rl-course release

release-check: $(STAMP)
	$(BIN)/rl-course release --check

grade: $(STAMP)
	$(BIN)/rl-course grade $(DIR) --jobs $(JOBS)

feedback: $(STAMP)
	$(BIN)/rl-course feedback $(DIR) --jobs $(JOBS)

# e.g. make student-edition OPEN=03 SOLVED="01 02": the wheel and notebooks students install, in student-edition/
student-edition: $(STAMP)
	$(BIN)/rl-course student-edition --open $(OPEN) $(if $(SOLVED),--solved $(SOLVED))

# The course on a JupyterHub on loopback, to try it: test users and passwords in deploy/jupyterhub/jupyterhub_config.py.
hub: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH) -e '.[hub]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

# Every benchmark in benchmarks/ (peers.py is what they share); the peers they compare with come with the bench extra.
BENCHMARKS := $(sort $(filter-out benchmarks/peers.py,$(wildcard benchmarks/*.py)))

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH) -e '.[dev,bench]'
	set -e; for benchmark in $(BENCHMARKS); do echo "== $$benchmark"; $(BIN)/python $$benchmark; done

clean:
	rm -rf $(VENV) outputs grades.csv .pytest_cache hub-state
