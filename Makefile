# afrrbox front door: every target creates .venv with the pinned dependencies on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
MPY := $(BIN)/micropython
BOARD ?= unix
PORT ?=
RIG_PORT ?=
SCENARIO ?= hil/scenarios/default.toml
OUT ?= out
GRID_SCENARIO ?= nordbalt_trip
MARKET_SCENARIO ?= uncongested

.PHONY: venv run test test-host test-mpy bench lint clean simulate market firmware deploy hil

# Then the project itself, in development mode (its pytest plugin: the HIL fixtures).
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(VENV)/.installed

## run: the main job, the default HIL scenario on the MicroPython Unix port
run: venv
	$(PY) -m hil run $(SCENARIO) --target unix --out $(OUT)/run

## test: every test, CPython (pytest + hypothesis) and the Unix port
test: test-host test-mpy

test-host: venv
	$(PY) -m pytest -q tests

test-mpy: venv
	$(MPY) tests/mp_runner.py

## bench: speed and memory figures, one JSON object per line, also in out/bench.json
bench: venv
	$(PY) -m bench --out $(OUT)/bench.json

## firmware: compile for BOARD into build/$(BOARD)/ (size table; fails over the flash budget)
firmware: venv
	$(PY) tools/build_firmware.py $(BOARD) --out build

## deploy: copy build/$(BOARD)/ to the board on PORT with mpremote, then reset it
deploy: venv
	@$(PY) tools/deploy.py $(BOARD) "$(PORT)" --check
	$(PY) tools/build_firmware.py $(BOARD) --out build
	@$(PY) tools/deploy.py $(BOARD) "$(PORT)"

## hil: the default HIL scenario against BOARD (unix: the Unix port; else the board whose USB
## REPL is on PORT, through the rig's serial adapter on RIG_PORT wired to the board's Modbus UART)
hil: venv
ifeq ($(BOARD),unix)
	$(PY) -m hil run $(SCENARIO) --target unix --out $(OUT)/hil-unix
else
	@$(PY) tools/deploy.py $(BOARD) "$(PORT)" --check --rig-port "$(RIG_PORT)"
	$(PY) -m hil run $(SCENARIO) --target serial:$(RIG_PORT) --out $(OUT)/hil-$(BOARD)
endif

## simulate: the grid emulator alone (no firmware)
simulate: venv
	$(PY) -m host simulate host/worlds/baltic.toml --scenario $(GRID_SCENARIO) --out $(OUT)/simulate

## market: the balancing market over the emulator
market: venv
	$(PY) -m host market host/worlds/baltic_market.toml --scenario $(MARKET_SCENARIO) --out $(OUT)/market

lint: venv
	$(BIN)/ruff check firmware host hil boards tests bench tools

clean:
	rm -rf $(VENV) $(OUT) build .pytest_cache .hypothesis
