# The README's two commands: `make demo` and `make test`. Both bootstrap .venv/ first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.bootstrap-stamp
PYTEST := $(VENV)/bin/pytest

.PHONY: bootstrap demo test test-e2e test-cluster test-quick lint bench clean

bootstrap: $(STAMP)

$(STAMP): setup.cfg pyproject.toml constraints.txt infra/bootstrap.sh infra/web_setup.sh
	@bash infra/bootstrap.sh $(PYTHON) $(VENV)
	@touch $(STAMP)

demo: bootstrap
	$(VENV)/bin/fyp demo

# The whole suite, end-to-end DAG runs included, on two workers by file; the longest modules
# start first (tests/conftest.py orders them) so neither worker is left with a long tail.
test: bootstrap
	$(PYTEST) -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15 -m "not cluster"

# The distributed deployment on this machine: `fyp cluster up` (S3 lake on SeaweedFS, Spark
# standalone master + 2 workers, Airflow scheduler + Celery worker), fyp_hourly and fyp_nightly
# through the scheduler, a Spark worker killed mid-run (tests/test_cluster.py). `.ci/run` runs
# it after `make test`.
test-cluster: bootstrap
	$(PYTEST) -q -m cluster tests/test_cluster.py -s --durations=5

# Only the end-to-end runs of fyp_hourly + fyp_nightly through Airflow on a tiny world (minutes).
test-e2e: bootstrap
	$(PYTEST) -q -m "e2e and not cluster"

# Pure tests only: no Spark, no servers, no Airflow (seconds).
test-quick: bootstrap
	$(PYTEST) -q -m "not spark and not services and not airflow and not slow and not cluster"

bench: bootstrap
	for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

# ruff's rules (pyproject.toml: pycodestyle, pyflakes, isort, bugbear, pyupgrade, Airflow 3's AIR3)
# and its formatter, as a check: `ruff format .` fixes what the second line reports.
lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf .fyp .pytest_cache
