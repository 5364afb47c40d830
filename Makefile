# The two commands a newcomer needs: `make run` (the demo) and `make test` (every test suite).
BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)

.PHONY: all deps configure build run test test-unit test-okta-sim test-e2e bench bench-instructions clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/demo.sh

test: build
	@$(MAKE) --no-print-directory test-unit test-okta-sim test-e2e

test-unit:
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-okta-sim:
	node --test --test-reporter=spec tests/okta-sim/test/

test-e2e:
	POSTERN_BIN=$(CURDIR)/$(BUILD)/postern node --test --test-reporter=spec tests/e2e/

bench: build
	bench/run.sh

bench-instructions: build
	bench/instructions.sh

clean:
	rm -rf $(BUILD)
