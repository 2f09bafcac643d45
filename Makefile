# pkilab — non-recursive build.
#   make            build/pkilab, build/pkilab-cdpd, build/libpkilab.a
#   make test       install deps, build, run unit + integration tests
#   make check      the whole suite under ASan+UBSan, in build-san/
#   make run        install deps, build, run the example lab end to end
#   make bench      benchmarks under scripts/bench/
#   make install    PREFIX=/usr/local DESTDIR=  (relocatable: pkilab finds its templates
#                   from its own path, so one build installs to any prefix)
#   make deb        build/deb/pkilab_<version>_<arch>.deb (dpkg-buildpackage + lintian)
#   make compdb     compile_commands.json (bear)      make lint   cppcheck + clang-tidy + shellcheck
#   make fuzz       libFuzzer harnesses, build-fuzz/  make format / format-check  (.clang-format)
# BUILD=dir selects the build directory, so several builds (gcc, clang, sanitizers)
# can live side by side.

BUILD    ?= build
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
DATADIR  ?= $(PREFIX)/share/pkilab
DOCDIR   ?= $(PREFIX)/share/doc/pkilab
# systemd looks in /usr/local/lib/... and /usr/lib/... (systemd.unit(5),
# sysusers.d(5), tmpfiles.d(5)); Debian 12 keeps units in /lib/systemd/system.
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
# The one version number: debian/changelog's (pkilab --version, the .deb).
VERSION  := $(shell sed -n '1{s/^pkilab [(]//;s/[)].*//;p;}' debian/changelog)
SAN      ?=
V        ?=
Q        := $(if $(V),,@)
PKGS      = libssl libcrypto libmicrohttpd libconfig sqlite3 libcurl jansson

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# gcc's -Wformat-truncation guesses at snprintf results; where truncation
# matters (paths) it is checked explicitly (pkl_path_join), so it is off.
WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wno-unused-parameter \
           $(if $(findstring clang,$(CC)),,-Wno-format-truncation)
CFLAGS  ?= -O2 -g
# PKL_TEMPLATE_DIR is only a fallback: an installed pkilab looks in
# <its bindir>/../share/pkilab/templates first (ca/lib/lab.c).
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
           -DPKL_TEMPLATE_DIR='"$(DATADIR)/templates"' -DPKL_VERSION='"$(VERSION)"' \
           $(WARN) $(CPPFLAGS) $(CFLAGS) $(SAN) -Ica/include $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SAN)
LIBS     = $(PKG_LIBS) -lpthread

LIB_SRC  := $(sort $(wildcard ca/lib/*.c))
CLI_SRC  := $(sort $(wildcard ca/cli/*.c ca/commands/*.c))
CDP_SRC  := $(sort $(filter-out cdp-server/main.c,$(wildcard cdp-server/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
CDP_OBJ  := $(CDP_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The set-up the unit programs share (tests/unit/fixture.h), compiled once.
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
UNIT_FIX := $(BUILD)/tests/unit/fixture.o

LIBPKL   := $(BUILD)/libpkilab.a
LIBCDP   := $(if $(CDP_OBJ),$(BUILD)/libcdpd.a)

.PHONY: all test check run bench install deb clean compdb lint deps units fuzz
all: $(BUILD)/pkilab $(BUILD)/pkilab-cdpd $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBPKL): $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/libcdpd.a: $(CDP_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/pkilab: $(CLI_OBJ) $(LIBPKL)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(LIBPKL) $(LIBS)

$(BUILD)/pkilab-cdpd: $(BUILD)/cdp-server/main.o $(LIBCDP) $(LIBPKL)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBCDP) $(LIBPKL) $(LIBS)

# Unit tests link the shared fixture and the library (and the server's
# objects, for server unit tests). Compiled apart from the link, so that
# compile_commands.json holds one plain compile per file (clang-tidy).
$(BUILD)/tests/unit/%.o: CPPFLAGS += -Icdp-server
$(UNIT_BIN): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_FIX) $(LIBCDP) $(LIBPKL)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(UNIT_FIX) $(LIBCDP) $(LIBPKL) $(LIBS) -lcmocka

units: $(UNIT_BIN)

# --version prints debian/changelog's version (PKL_VERSION).
$(BUILD)/ca/cli/main.o: debian/changelog

deps:
	@sh scripts/install-deps.sh

# `make test` is what README and CI call: set-up included.
test: deps
	$(MAKE) all
	BUILD=$(BUILD) sh tests/run.sh

check: deps
	$(MAKE) all BUILD=build-san CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
	BUILD=build-san PKL_SANITIZED=1 sh tests/run.sh
	$(MAKE) fuzz

# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c): the library and the
# server's objects are built once with clang's fuzzer instrumentation and
# ASan+UBSan into $(FUZZ_BUILD)/ (libpkilab.a, libcdpd.a), each harness is
# linked against those archives with -fsanitize=fuzzer, and tests/fuzz/run.sh
# runs each for a fixed number of inputs (-runs, -seed=1: the same work on any
# machine; FUZZ_RUNS=N overrides) from its seed corpus tests/fuzz/corpus/<name>/.
# Skipped with a message where clang's libFuzzer runtime is missing
# (libclang-rt-14-dev).
FUZZ_BUILD ?= build-fuzz
FUZZ_RUNS  ?=
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIBCDP) $(LIBPKL)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Icdp-server -fsanitize=fuzzer $(ALL_LDFLAGS) -o $@ $< $(LIBCDP) $(LIBPKL) $(LIBS)

.PHONY: fuzz-bins
fuzz-bins: $(FUZZ_BIN)

fuzz:
	@if sh tests/fuzz/run.sh --probe; then \
	    $(MAKE) fuzz-bins BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	        SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" && \
	    BUILD=$(FUZZ_BUILD) FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/run.sh; \
	fi

# No test may depend on how busy the machine is: the plain suite again, with
# two CPU-bound stress-ng workers competing for the cores (tests/run.sh).
.PHONY: check-load
check-load: deps
	$(MAKE) all
	BUILD=$(BUILD) PKL_LOAD=2 sh tests/run.sh

run: deps
	$(MAKE) all
	BUILD=$(BUILD) sh scripts/run-lab.sh

bench:
	@sh scripts/install-deps.sh --bench
	$(MAKE) all
	BUILD=$(BUILD) sh scripts/bench/run.sh

# Units name their binaries and documentation under /usr/local (the default
# PREFIX): install rewrites those paths to where this install puts them.
UNIT_SED = -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|file:/usr/local/share/doc/pkilab/|file:$(DOCDIR)/|g'
UNITS    = pkilab-cdpd.service pkilab-crl.service pkilab-crl.timer

install: $(BUILD)/pkilab $(BUILD)/pkilab-cdpd
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/docs \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0755 $(BUILD)/pkilab $(BUILD)/pkilab-cdpd $(DESTDIR)$(BINDIR)/
	install -m 0644 templates/*.cfg $(DESTDIR)$(DATADIR)/templates/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	install -m 0644 examples/lab.cfg examples/cdpd.conf $(DESTDIR)$(DOCDIR)/examples/
	for u in $(UNITS); do \
	    sed $(UNIT_SED) examples/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u.tmp && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
	    mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 examples/systemd/pkilab-sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/pkilab.conf
	install -m 0644 examples/systemd/pkilab-tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/pkilab.conf

# The Debian package, built from a copy of the sources in $(BUILD)/deb/ so
# dpkg-buildpackage's output (it writes to ..) and debian/'s build files stay
# out of the tree; lintian must report no error and no warning that
# debian/pkilab.lintian-overrides does not justify.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      := $(BUILD)/deb/pkilab_$(VERSION)_$(DEB_ARCH).deb
DEB_SRC  := Makefile README.md docs ca cdp-server templates debian \
            examples/lab.cfg examples/cdpd.conf examples/systemd
deb:
	rm -rf $(BUILD)/deb
	mkdir -p $(BUILD)/deb/pkilab-$(VERSION)
	tar -cf - $(DEB_SRC) | tar -xf - -C $(BUILD)/deb/pkilab-$(VERSION)
	# This make's command line (BUILD=, CC=, SAN=, ...; make exports it) must
	# not reach debian/rules: the package is built by dh's compiler and flags.
	cd $(BUILD)/deb/pkilab-$(VERSION) && \
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u CC -u SAN -u CFLAGS -u LDFLAGS \
	        -u CPPFLAGS -u PREFIX -u DESTDIR -u BINDIR -u DATADIR -u DOCDIR -u UNITDIR \
	        -u SYSUSERSDIR -u TMPFILESDIR dpkg-buildpackage -b -us -uc
	lintian --fail-on error,warning --info $(DEB)
	@echo "  DEB     $(DEB)"

# clang, not cc: with gcc's -Wno-format-truncation in the database clang-tidy
# stops at "unknown warning option" and analyses nothing. The fuzz harnesses
# are compiled (not linked: libFuzzer is not needed to analyse them) so that
# they are in the database too.
FUZZ_OBJ := $(FUZZ_SRC:%.c=$(BUILD)/%.o)
$(BUILD)/tests/fuzz/%.o: CPPFLAGS += -Icdp-server
compdb:
	$(MAKE) clean BUILD=build-compdb
	bear -- $(MAKE) all compdb-fuzz BUILD=build-compdb CC=clang

.PHONY: compdb-fuzz
compdb-fuzz: $(FUZZ_OBJ)

# cppcheck 2.10 reads the quoted PKL_TEMPLATE_DIR of the database unquoted
# (a syntax error that skips lab.c): it is defined again for cppcheck.
# The database holds the library, the commands, the server, the unit programs
# with their fixture and the fuzz harnesses; clang-tidy is given the same files.
LINT_SH = tests/*.sh tests/crash/*.sh tests/doctor/*.sh tests/fuzz/*.sh scripts/*.sh scripts/bench/*.sh \
	  .ci/run debian/pkilab.postrm
lint: lint-deps compdb
	cppcheck --project=compile_commands.json --enable=warning,performance,portability \
	    --inline-suppr --error-exitcode=1 -q --suppress=missingIncludeSystem \
	    '-DPKL_TEMPLATE_DIR="$(DATADIR)/templates"' '-DPKL_VERSION="$(VERSION)"'
	clang-tidy -p . --quiet --checks='-*,bugprone-*,clang-analyzer-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-clang-analyzer-security.insecureAPI.*' \
	    $(LIB_SRC) $(CLI_SRC) $(wildcard cdp-server/*.c) $(UNIT_SRC) tests/unit/fixture.c $(FUZZ_SRC)
	shellcheck -s sh -S warning $(LINT_SH)

.PHONY: lint-deps format format-check
lint-deps:
	@sh scripts/install-deps.sh --lint

# The committed .clang-format over every C file and header of ours:
# format-check lists the files it would change (and fails), format rewrites
# them in place.
FORMAT_SRC = $(sort $(wildcard ca/include/pkilab/*.h ca/lib/*.c ca/lib/*.h ca/cli/*.c ca/cli/*.h \
	     ca/commands/*.c ca/commands/*.h cdp-server/*.c cdp-server/*.h tests/unit/*.c tests/unit/*.h \
	     tests/fuzz/*.c tests/crash/*.c))
format: lint-deps
	clang-format -i --style=file $(FORMAT_SRC)

format-check: lint-deps
	@bad=0; for f in $(FORMAT_SRC); do \
	    clang-format --style=file "$$f" | cmp -s - "$$f" || { echo "format: $$f"; bad=1; }; \
	done; [ $$bad -eq 0 ]

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(CDP_OBJ:.o=.d) $(BUILD)/cdp-server/main.d $(UNIT_FIX:.o=.d) \
	   $(UNIT_OBJ:.o=.d) $(FUZZ_BIN:=.d)
