# The two commands a newcomer needs: `make run` (the demo) and `make test` (every test suite).
BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)

.PHONY: all deps configure build run test test-unit test-okta-sim test-e2e test-sanitize bench bench-instructions deb clean

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

# AddressSanitizer + UndefinedBehaviorSanitizer: a separate build (build-sanitize) of everything, then the unit tests
# and the end-to-end suite against that binary. Run it after every change to a parser or the data path.
SANITIZE_BUILD ?= build-sanitize
SANITIZE_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_init_order=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOSTERN_SANITIZE=ON \
	  -DPOSTERN_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	$(SANITIZE_ENV) ctest --test-dir $(SANITIZE_BUILD) --output-on-failure -j $(JOBS)
	$(SANITIZE_ENV) POSTERN_BIN=$(CURDIR)/$(SANITIZE_BUILD)/postern node --test --test-reporter=spec tests/e2e/

bench: build
	bench/run.sh

bench-instructions: build
	bench/instructions.sh

# The Debian package, from the built binary: $(BUILD)/deb/postern_<version>_<arch>.deb (packaging/build-deb.sh).
deb: build
	@packaging/build-deb.sh $(BUILD)/postern $(BUILD)/deb

clean:
	rm -rf $(BUILD)
