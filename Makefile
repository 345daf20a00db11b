# The two commands of the README. Both install missing Debian packages first.
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: demo test build configure deps clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The demo needs only the command, not the tests and benchmarks.
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target contraseg
	$(BUILD)/contraseg demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)
