# The two commands: `make up` runs the whole stack locally (options: make up ARGS="--clock system"),
# `make test` runs every check: lint, format, types, tests.
.PHONY: install up demo test lint format

VENV := .venv/bin

install:
	@bash scripts/bootstrap.sh

up: install
	$(VENV)/rosca up $(ARGS)

demo: install
	$(VENV)/rosca demo $(ARGS)

lint: install
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy .

test: lint
	$(VENV)/pytest

format: install
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .
