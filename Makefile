# tlsscope: `make run` and `make test` do all their own set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PEER   := .venv-peer

.PHONY: assets dist screenshots run test test-fast fuzz lint bench bench-store bench-intake bench-dashboard bench-startup bench-attack bench-alerts bench-metrics clean system-deps

VENDOR := src/tlsscope/web/static/vendor

$(STAMP): pyproject.toml $(VENDOR)/.installed
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## assets: the dashboard's front-end libraries, from npm (package-lock.json), copied into the
## package; nothing is loaded from a CDN
$(VENDOR)/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; } || \
		{ echo "npm is needed to vendor the dashboard's libraries (install Node.js)"; exit 1; }
	npm ci --no-audit --no-fund --silent
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/chart.js/LICENSE.md $(VENDOR)/chart.js.LICENSE.md
	cp node_modules/htmx.org/LICENSE $(VENDOR)/htmx.LICENSE
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	cp node_modules/swagger-ui-dist/LICENSE $(VENDOR)/swagger-ui.LICENSE
	touch $@

assets: $(VENDOR)/.installed

## dist: the sdist and the wheel (built from the sdist), the vendored libraries inside; the
## build fails without them (setup.py)
dist: $(STAMP)
	rm -rf dist
	mkdir -p build
	$(BIN)/python -m build --outdir dist . >build/dist.log 2>&1 || { cat build/dist.log; exit 1; }
	@ls dist

## run: the dashboard on SQLite with six weeks of sample reports; prints the URL and logins
DEMO_DB ?= sqlite:///$(CURDIR)/demo/tlsscope.db
LISTEN  ?= 127.0.0.1:8080
run: $(STAMP)
	mkdir -p demo
	TLSSCOPE_LISTEN=$(LISTEN) $(BIN)/tlsscope demo --db $(DEMO_DB)
	TLSSCOPE_LISTEN=$(LISTEN) TLSSCOPE_CHECK_EVERY_HOURS=0 TLSSCOPE_CHECK_ON_FAILURE=false \
		$(BIN)/tlsscope serve --db $(DEMO_DB)

## screenshots: docs/screenshots/*.png of every dashboard page, from the demo data
screenshots: $(STAMP) system-deps
	$(BIN)/python docs/make_screenshots.py

## system-deps: servers the tests start (PostgreSQL, Dovecot, Prometheus) and Chromium, installed with apt-get when root
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "missing:$$missing (apt-get install them, or set TLSSCOPE_TEST_POSTGRES=skip / TLSSCOPE_TEST_DOVECOT=skip)"; \
		fi; \
	fi

## test: lint, the package (built, then installed without extras in a fresh venv by
## tests/install), then the whole test suite (SQLite and a PostgreSQL server it starts itself)
test: $(STAMP) system-deps lint dist
	TLSSCOPE_TEST_WHEEL="$$(ls $(CURDIR)/dist/*.whl)" $(BIN)/pytest

## fuzz: the reader fuzz campaign, longer than make test's (300,000 mutated inputs, SQLite)
fuzz: $(STAMP)
	$(BIN)/python -m tests.support.fuzzing 300000

## test-fast: the offline core suite: no servers, no slow fuzzing (under 30 s)
test-fast: $(STAMP)
	TLSSCOPE_TEST_FAST=1 $(BIN)/pytest -m "not slow and not server"

## lint: ruff, mypy --strict (src, tests and bench: the files in pyproject.toml) and the
## import-layer contract
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

$(PEER)/.installed:
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/pip install --quiet --upgrade pip
	$(PEER)/bin/pip install --quiet 'parsedmarc==11.1.0'
	touch $@

## bench: speed against parsedmarc 11.1.0 (installed in its own venv), same inputs, same run
bench: $(STAMP) $(PEER)/.installed
	mkdir -p bench/out
	$(BIN)/python bench/run_all.py --peer $(PEER)/bin/python --peer-cli $(PEER)/bin/parsedmarc \
		| tee bench/out/latest.md

## bench-store: ingest speed and memory (20,000 inputs, a 1 GB mbox), stats on 1,000,000 reports
bench-store: $(STAMP) $(PEER)/.installed
	$(BIN)/python bench/ingest.py --peer-cli $(PEER)/bin/parsedmarc
	$(BIN)/python bench/million.py

## bench-intake: tlsscope serve under HTTPS load (wrk) and SMTP
bench-intake: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(BIN)/python bench/intake.py

## bench-startup: what each command costs before it does anything, against --version
bench-startup: $(STAMP) $(PEER)/.installed
	$(BIN)/python bench/startup.py --peer-cli $(PEER)/bin/parsedmarc

## bench-metrics: /metrics for 10,000 domains: a read of the report gauges, and a scrape
bench-metrics: $(STAMP)
	$(BIN)/python bench/metrics_scrape.py

## bench-alerts: 10,000 alerts drained to a webhook; the alerting pass over 1,000 domains
bench-alerts: $(STAMP)
	$(BIN)/python bench/alerts.py

## bench-attack: good POSTs while a stalling, a poisoning and a bomb input are posted
bench-attack: $(STAMP)
	$(BIN)/python bench/attack.py

## bench-dashboard: pages and API through HTTP with 1,000,000 reports for one domain
bench-dashboard: $(STAMP)
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) $(PEER) .pytest_cache .mypy_cache .ruff_cache
