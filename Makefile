# arrears: `make demo` runs the main job on the embedded local stack, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/arrears/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo test lint unit integration e2e bench clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/arrears run --days 60 --out out --param ShardCount=2 --param ChannelCapacity=sms=20000,email=50000,voice=25,wechat=20000,letter=300 \
		--publish layers/arrears/arrears/strategies/examples/cn-call-early-challenger.yaml \
		--dry-run layers/arrears/arrears/strategies/cn-default.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy layers/arrears/arrears infra/arrears_local
	$(BIN)/cfn-lint template.yaml

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py --out out/bench.json

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
