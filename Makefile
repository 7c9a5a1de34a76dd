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
	format-check bench install uninstall clean

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
	NK_VALGRIND=1 ctest --test-dir $(BUILD) --output-on-failure \
		-R 'integration_test_(serve|udp|ipv6|config|sockopts|robust|wrap|api11|line|deadlines|access|systemd|counters|serve_check|logs|proxy|haproxy)'

check: test format-check asan valgrind

# clang-format (Debian's 14) with the committed .clang-format.
format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check: test-deps
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench: build
	sh scripts/bench.sh

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
	rm -rf $(BUILD) build-asan
