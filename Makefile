# The two commands of the README: `make run` and `make test`. Both create .venv and install
# into it on first use (and again when a requirements file changes).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# CI runs against the machine's PostgreSQL and Redis; the test session refuses to start if
# they are unreachable (tests/conftest.py), so nothing that needs them is silently skipped.
ifeq ($(CI),true)
export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/avqa
export REDIS_URL ?= redis://127.0.0.1:6379/0
endif

.PHONY: run test test-fast install browser axe lint migrate seed clean bench-speed bench-accuracy bench-crowd \
	bench-scale deploy-check

install: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# The demo retrains after a few accepted pairs (production waits for RETRAIN_MIN_NEW=200), and
# trains AVST and the question-only baseline only, on a schedule short enough for the CPU that
# still learns from the demo collection (docs/model.md, "The demo's first model"); any of these
# can be overridden from the command line or the environment.
run: export DJANGO_DEBUG ?= true
run: export RETRAIN_MIN_NEW ?= 10
run: export RETRAIN_INTERVAL_SECONDS ?= 60
run: export TRAIN_EPOCHS ?= 10
run: export TRAIN_LEARNING_RATE ?= 3e-4
run: export TRAIN_VARIANTS ?= avst
run: export TRAIN_BASELINES ?= question_only
run: export TRAIN_MIN_PAIRS ?= 5
PORT ?= 8000
run: seed
	$(BIN)/python manage.py runlocal --addr 127.0.0.1:$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed here when this
# machine allows it; without it the browser tests skip, except on CI where they fail.
CHROMIUM ?= /usr/bin/chromium
# On a fresh machine the package lists can be empty: when the install finds nothing, update
# them and try again.
browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } || \
		echo "note: no Chromium at $(CHROMIUM) (apt-get install -y chromium); browser tests will skip"

# axe-core (from the npm registry) checks the pages' accessibility in the browser tests.
AXE := var/npm/node_modules/axe-core/axe.min.js
axe:
	@test -f $(AXE) || { command -v npm >/dev/null && \
		npm install --prefix var/npm --no-audit --no-fund --silent axe-core@4 >/dev/null; } || \
		echo "note: no axe-core (npm install --prefix var/npm axe-core@4); accessibility tests will skip"

test: install browser axe
	$(BIN)/ruff check .
	DATABASE_URL= $(BIN)/python manage.py makemigrations --check --dry-run  # models vs files only
	$(BIN)/python -m pytest

# The fast loop while working: the unit and service tests on SQLite, without the browser, the
# started processes and the slow tests (docs/testing.md); `make test` runs everything.
# The browser tests and the API fuzz test (all marked) are not even collected: building the
# fuzz test's cases from the OpenAPI schema alone takes seconds. One pytest process per core.
FAST := not (browser or system or slow or postgres or redis)
test-fast: install
	DATABASE_URL= REDIS_URL= CI= $(BIN)/python -m pytest -q -n auto -m "$(FAST)" \
		--ignore=tests/e2e --ignore=tests/annotator/api/test_fuzz.py

# Benchmarks (see bench/README.md); they print medians and ratios, and take minutes.
bench-speed: install
	$(BIN)/python -m bench.speed

bench-accuracy: install
	$(BIN)/python -m bench.accuracy

# Need PostgreSQL and Redis (CROWD_/SCALE_DATABASE_URL, CROWD_/SCALE_REDIS_URL; defaults: this
# machine's). Each level starts from a fresh database.
bench-crowd: install
	$(BIN)/python -m bench.crowd

bench-scale: install
	$(BIN)/python -m bench.scale

# docker-compose.yml started on a Docker engine of its own and checked from outside over https
# (docs/deployment.md). Root, ~20 GB of disk, minutes: not part of `make test`.
# DEPLOY_CHECK_ARGS="--compose v1" runs it with Debian's docker-compose 1.29; "--keep" leaves it up.
deploy-check: install
	$(BIN)/python -m deploy.check $(DEPLOY_CHECK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
