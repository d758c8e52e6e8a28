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

.PHONY: venv run test test-stress test-host test-mpy bench lint clean simulate market firmware \
	deploy hil micropython micropython-if-possible

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

## test-stress: the whole `make test` with four CPU-bound processes beside it (started and
## stopped by tools/cpuload.py, also on a failure or Ctrl-C): results must not depend on load
test-stress: venv
	$(PY) tools/cpuload.py --procs 4 -- $(MAKE) test

test-host: venv micropython-if-possible
	$(PY) -m pytest -q tests

## micropython: MicroPython v1.28.0 from source into build/micropython/ (QEMU board image with the
## firmware frozen in, 32-bit Unix port); source: $MICROPYTHON_SRC (tarball or tree), else git
micropython: venv
	$(PY) tools/build_micropython.py

# make test: the same when the toolchain is there (reused when up to date); one line when not
micropython-if-possible: venv
	@$(PY) tools/build_micropython.py --if-toolchain

test-mpy: venv
	$(MPY) tests/mp_runner.py

## bench: speed and memory figures, one JSON object per line, also in out/bench.json
bench: venv micropython-if-possible
	$(PY) -m bench --out $(OUT)/bench.json

## firmware: compile for BOARD into build/$(BOARD)/ (size table; fails over the flash budget;
##   RIG=1: a HIL rig build that steps on sim_time_ms writes, lock-step; DEBUG=1: keep the
##   source line numbers that tracebacks give, left out by default to save flash and heap)
firmware: venv
	$(PY) tools/build_firmware.py $(BOARD) --out build $(if $(RIG),--lockstep) $(if $(DEBUG),--debug)

## deploy: copy build/$(BOARD)/ (and the key file KEY=, its sequence floor FLOOR=, if given) to
##   the board on PORT, reset it (RIG=1: the lock-step rig build)
deploy: venv
	@$(PY) tools/deploy.py $(BOARD) "$(PORT)" --check $(if $(KEY),--key "$(KEY)") $(if $(FLOOR),--floor "$(FLOOR)")
	$(PY) tools/build_firmware.py $(BOARD) --out build $(if $(RIG),--lockstep)
	@$(PY) tools/deploy.py $(BOARD) "$(PORT)" $(if $(KEY),--key "$(KEY)") $(if $(FLOOR),--floor "$(FLOOR)")

## hil: the default HIL scenario against BOARD (unix: the Unix port; qemu_mps2: the emulated
## Cortex-M3 under QEMU, built first; else the board whose USB REPL is on PORT, through the
## rig's serial adapter on RIG_PORT wired to the board's Modbus UART)
hil: venv
ifeq ($(BOARD),unix)
	$(PY) -m hil run $(SCENARIO) --target unix --out $(OUT)/hil-unix
else ifeq ($(BOARD),qemu_mps2)
	$(PY) tools/build_micropython.py --only qemu
	$(PY) -m hil run $(SCENARIO) --target qemu --out $(OUT)/hil-qemu_mps2
else
	@$(PY) tools/deploy.py $(BOARD) "$(PORT)" --check --rig-port "$(RIG_PORT)"
	$(PY) -m hil run $(SCENARIO) --target serial:$(RIG_PORT) --out $(OUT)/hil-$(BOARD) $(if $(KEY),--key "$(KEY)")
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
