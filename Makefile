# The two commands: `make up` runs the whole stack locally (options: make up ARGS="--clock system"),
# `make test` runs every check: lint, format, types, tests.
.PHONY: install up demo chaos test lint format

VENV := .venv/bin

install:
	@bash scripts/bootstrap.sh

up: install
	$(VENV)/rosca up $(ARGS)

demo: install
	$(VENV)/rosca demo $(ARGS)

# 20 groups through their rotations under a seeded fault plan (make chaos ARGS="--seed 42 --quick").
chaos: install
	$(VENV)/rosca chaos $(ARGS)

lint: install
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy .

test: lint
	$(VENV)/pytest

format: install
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .
