# The two commands of the README. Both install missing Debian packages first.
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: demo test test-asan build configure deps clean

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

# The tests again, every C++ target (the contraseg command they run included) built with
# AddressSanitizer and UndefinedBehaviorSanitizer, CPU only, in $(ASAN_BUILD). Every report stops
# its process. AddressSanitizer's (leaks included) also go to files under
# $(ASAN_BUILD)/sanitizer-logs, printed at the end, and any file there fails the target: a report
# from a contraseg subprocess that a test expects to fail would otherwise pass unseen. UBSan's go
# to stderr only (GCC's libubsan ignores log_path beside libasan), failing the test that sees them.
ASAN_BUILD ?= build-asan
ASAN_LOGS   = $(abspath $(ASAN_BUILD))/sanitizer-logs
CCACHE     := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# detect_leaks=1: neither libgomp nor oneDNN gives a leak report here, so there are no suppressions.
# The build runs the test binaries too (gtest_discover_tests), under the same options.
ASAN_OPTS  = halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1
UBSAN_OPTS = halt_on_error=1:print_stacktrace=1
# -O1 -g, as AddressSanitizer's documentation advises: exact stacks, tolerable speed.
# More ctest arguments, e.g. ASAN_CTEST_ARGS="-E Pipeline" to leave tests out.
ASAN_CTEST_ARGS ?=

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
	  -DCONTRASEG_SANITIZE=address,undefined -DCONTRASEG_CUDA=OFF -DCONTRASEG_BENCH=OFF $(CCACHE) >/dev/null
	@ASAN_OPTIONS=$(ASAN_OPTS) UBSAN_OPTIONS=$(UBSAN_OPTS) cmake --build $(ASAN_BUILD) -j $(JOBS)
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=$(ASAN_OPTS):log_path=$(ASAN_LOGS)/asan UBSAN_OPTIONS=$(UBSAN_OPTS) \
	  ctest --output-on-failure -j $(JOBS) $(ASAN_CTEST_ARGS); rc=$$?; \
	  if [ -n "$$(ls -A $(ASAN_LOGS))" ]; then \
	    for f in $(ASAN_LOGS)/*; do echo "=== sanitizer report $$f"; cat "$$f"; done; \
	    echo "test-asan: sanitizer reports (above) in $(ASAN_LOGS)"; rc=1; \
	  fi; exit $$rc

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
