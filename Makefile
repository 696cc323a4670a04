# Two commands do it all: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install  ## migrate, load the starter KB; web chat + dashboard on :8080 and the console chat in this terminal
	$(BIN)/helpdesk db upgrade
	$(BIN)/helpdesk kb import
	$(BIN)/helpdesk console

lint: install  ## ruff, mypy and the layer contracts (import-linter, [tool.importlinter] in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint  ## ruff, mypy, the layer contracts and the whole test suite
	$(BIN)/pytest -q

bench: install  ## benchmarks (print figures; not part of `make test`)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/kb.py
	$(BIN)/python bench/channels.py
	$(BIN)/python bench/sla_sweep.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/tickets.py
	$(BIN)/python bench/soak.py --n 20000 --users 2000 --kills 3 --storms 2 --outages 2

clean:
	rm -rf $(VENV) helpdesk.db helpdesk.db-wal helpdesk.db-shm .mypy_cache .ruff_cache .pytest_cache
