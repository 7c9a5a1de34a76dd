# netkit -- the README's two commands, and a few more.
#
#   make run     install build dependencies, build, serve framed on :9999
#   make test    install test dependencies, build, run every test (ctest)
#   make check   make test, format-check, the suite under ASan/UBSan
#                (clang), and the serving tests under valgrind
#   make bench   compare with ../shared/bench's ref_echo (see docs/bench.md)
#   make install [PREFIX=/usr/local] [DESTDIR=/stage]
#                the binary, plugins, headers, netkit.pc, the plugin test
#                kit and netkit-testkit.pc, netkit.ini, the netkit(1)
#                manual, the plugin guide and the example
#   make uninstall
#                remove what the last make install installed, and the
#                directories it created
#   make fuzz    build the libFuzzer harnesses (clang) and run each for
#                FUZZ_TIME seconds from its seed corpus (tests/fuzz/)
#   make fanout  the pubsub example's fan-out to 100 subscribers, -w 1 and 2
#   make builds  every build type (Debug, Release, RelWithDebInfo,
#                MinSizeRel) with gcc and with clang, tests included, each
#                in build-types/CC-TYPE: any warning fails

BUILD ?= build
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# make install: where (empty: the configured prefix, /usr/local), and a
# staging root put in front of every path (packaging).
PREFIX ?=
DESTDIR ?=
# Where make install records what it installed, for make uninstall.
RECORD ?= $(BUILD)

.PHONY: all deps test-deps build run test check asan valgrind format \
	format-check bench fanout install uninstall clean fuzz builds

FUZZ_TIME ?= 20
FUZZERS = fuzz_framed fuzz_raw fuzz_line fuzz_conf fuzz_value fuzz_cli fuzz_tls


all: build

deps:
	@sh scripts/deps.sh build

test-deps:
	@sh scripts/deps.sh test

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/netkit serve -c conf/netkit.ini

test: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

asan: test-deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNK_ASAN=ON \
		-DNK_UBSAN=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build build-asan -j$(JOBS)
	NK_NO_DLCLOSE=1 ASAN_OPTIONS=detect_leaks=1 \
		ctest --test-dir build-asan --output-on-failure -j$(JOBS)

valgrind: test-deps build
	NK_VALGRIND=1 ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) \
		-R 'integration_test_(serve|udp|ipv6|config|sockopts|robust|wrap|api11|api12|line|deadlines|closing|perip|access|systemd|hostile|pubsub|counters|serve_check|logs|proxy|haproxy|reload|limits|seeds|unit|tls|tls_config|tls_connect|rules|http_example|unix)'

check: test format-check asan valgrind

# What packagers build: optimisation levels bring their own warnings (gcc
# 12's format-truncation at -O3 only, say).  -Werror makes a compiler
# warning fail the build; the grep catches what it does not cover (the
# linker's, CMake's).
BUILD_TYPES ?= Debug Release RelWithDebInfo MinSizeRel
BUILD_CCS ?= gcc clang
builds: test-deps
	@for cc in $(BUILD_CCS); do for t in $(BUILD_TYPES); do \
		d=build-types/$$cc-$$t; mkdir -p $$d; \
		{ cmake -S . -B $$d -DCMAKE_BUILD_TYPE=$$t \
			-DCMAKE_C_COMPILER=$$cc && \
		  cmake --build $$d -j$(JOBS); } >$$d/build.log 2>&1 && \
		! grep -i 'warning' $$d/build.log || \
			{ grep -i -B2 -A8 'warning\|error' $$d/build.log | head -60; \
			  echo "builds: $$cc $$t failed (see $$d/build.log)"; exit 1; }; \
		echo "builds: $$cc $$t: no warning"; \
	done; done

# New inputs go to build-fuzz/corpus/NAME (the committed seeds stay as they
# are); a crash leaves its input in build-fuzz/crashes/ and fails the target.
fuzz: test-deps
	@cmake -S . -B build-fuzz -DNK_FUZZ=ON -DNK_BUILD_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@mkdir -p build-fuzz/crashes
	@for f in $(FUZZERS); do \
		mkdir -p build-fuzz/corpus/$$f; \
		echo "fuzz: $$f for $(FUZZ_TIME) s"; \
		./build-fuzz/tests/fuzz/$$f -max_total_time=$(FUZZ_TIME) \
			-max_len=4096 -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=0 \
			-artifact_prefix=build-fuzz/crashes/$$f- \
			build-fuzz/corpus/$$f tests/fuzz/corpus/$$f \
			>build-fuzz/$$f.log 2>&1 || \
			{ tail -40 build-fuzz/$$f.log; exit 1; }; \
		tail -1 build-fuzz/$$f.log; \
	done

# clang-format (Debian's 14) with the committed .clang-format.
format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check: test-deps
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench: build
	sh scripts/bench.sh

fanout: build
	python3 scripts/fanout.py --builddir $(BUILD)

# What was installed is kept for uninstall: the files (CMake's
# install_manifest.txt, which leaves DESTDIR out, with DESTDIR put back,
# copied so that a later plain cmake --install does not replace it) and the
# directories the install created.
install: build
	@mkdir -p $(RECORD)
	DESTDIR="$(DESTDIR)" NK_INSTALL_DIRS_FILE="$(abspath $(RECORD))/install_dirs.txt" \
		cmake --install $(BUILD) $(if $(PREFIX),--prefix "$(PREFIX)")
	@awk -v d="$(DESTDIR)" 'NF { print d $$0 }' \
		$(BUILD)/install_manifest.txt >>$(RECORD)/install_files.txt

uninstall:
	@sh scripts/uninstall.sh $(RECORD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-types
