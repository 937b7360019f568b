# arrears: `make demo` runs the main job on the embedded local stack, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/arrears/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
# checkov pins its own boto3 (and ~90 more packages): it gets a virtual environment of its own
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements-checkov.txt | cksum | cut -d' ' -f1)

# the console's browser tests drive Debian's Chromium (Playwright for Python, which downloads no browser)
CHROMIUM := /usr/bin/chromium
# a Chinese font, so the zh-CN pages' screenshots show text (1.6 MB; phones have their own)
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup demo test lint unit integration e2e bench soak clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	rm -f $(CHECKOV_VENV)/.installed-* && touch $(CHECKOV_STAMP)

$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium \
		|| (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium)

$(CJK_FONT):
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends fonts-wqy-microhei \
		|| (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends fonts-wqy-microhei)

setup: $(STAMP) $(CHROMIUM) $(CJK_FONT)

demo: $(STAMP)
	$(BIN)/arrears run --borrowers 1000 --days 60 --out out --param ShardCount=2 --param ChannelCapacity=sms=20000,email=50000,voice=8,wechat=20000,letter=300 \
		--publish layers/arrears/arrears/strategies/examples/cn-call-early-challenger.yaml \
		--dry-run layers/arrears/arrears/strategies/cn-default.yaml --snapshot

lint: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy layers/arrears/arrears infra/arrears_local
	$(BIN)/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP) $(CHROMIUM) $(CJK_FONT)
	$(BIN)/pytest tests/e2e

test: lint $(CHROMIUM) $(CJK_FONT)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py --out out/bench.json

# 30 simulated days of a 20,000-borrower book, fault-free and with 10% faults side by side: out/soak.json
soak: $(STAMP)
	$(BIN)/python -m arrears_local.soak --borrowers 20000 --days 30 --faults 0.1 --out out

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
