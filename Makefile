# The README's two commands: `make demo` and `make test`. Both bootstrap .venv/ first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.bootstrap-stamp
PYTEST := $(VENV)/bin/pytest

.PHONY: bootstrap demo test test-e2e test-quick lint bench clean

bootstrap: $(STAMP)

$(STAMP): setup.cfg pyproject.toml constraints.txt infra/bootstrap.sh
	@bash infra/bootstrap.sh $(PYTHON) $(VENV)
	@touch $(STAMP)

demo: bootstrap
	$(VENV)/bin/fyp demo

# The whole suite on two workers by file; the end-to-end module (the longest, ~13 min) is
# collected first and kept first (--no-loadscope-reorder), so it starts at once on one worker
# while the other takes the rest.
test: bootstrap
	$(PYTEST) -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

# Only the end-to-end runs of fyp_hourly + fyp_nightly through Airflow on a tiny world (minutes).
test-e2e: bootstrap
	$(PYTEST) -q -m e2e

# Pure tests only: no Spark, no servers, no Airflow (seconds).
test-quick: bootstrap
	$(PYTEST) -q -m "not spark and not services and not airflow and not slow"

bench: bootstrap
	for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf .fyp .pytest_cache
