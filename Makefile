# Makefile: builds libcommon.a (the platform) and libagent.a (the product), the FastCGI endpoints, cron binaries, tools, broadcaster and tests; drives the stack.

PORT	?= 8080
VAR	?= ./var
# Empty: the stack script's defaults (lighttpd, fcgi), or a running
# stack's MODE and its WEB (make restart, make status keep them).
WEB	?=
MODE	?=
SUB	?= user_demo
ORG	?=

CC	?= cc
BUILD	?= build/release
SAN	?=
PKGS	 = fcgi libpq hiredis json-c libcurl libjwt libcrypto

WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wformat=2
CFLAGS	?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Icommon -Iagent $(WARN) \
	   $(shell pkg-config --cflags $(PKGS))
# Each object and test program lists the headers it read (.d files, included
# below), so touching agent/agent.h rebuilds only what includes it.
DEPFLAGS = -MMD -MP
override LDLIBS += $(shell pkg-config --libs $(PKGS)) -lm
ifneq ($(SAN),)
override CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q	 =
else
Q	 = @
endif

# Two libraries, two floors: the platform (common/) knows nothing of the
# product (agent/), which is built on it.  Programs link both, the
# product first; the broadcaster links the platform alone.
COMMON_SRC	= $(wildcard common/*.c)
COMMON_OBJ	= $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
LIBCOMMON	= $(BUILD)/libcommon.a
AGENT_SRC	= $(wildcard agent/*.c)
AGENT_OBJ	= $(AGENT_SRC:%.c=$(BUILD)/obj/%.o)
LIBAGENT	= $(BUILD)/libagent.a

ENDPOINTS	= $(basename $(notdir $(wildcard cgi-bin/*.c)))
CRONS		= $(basename $(notdir $(wildcard cron/*.c)))
TOOLS		= $(basename $(notdir $(wildcard tools/*.c)))
UNITS		= $(basename $(notdir $(wildcard tests/unit/*.c)))
ITESTS		= $(basename $(notdir $(wildcard tests/integration/*.c)))

# Tests of the product: those that include agent.h or a file of agent/.
PRODUCT_TESTS	= $(basename $(notdir $(shell grep -l -e '"agent\.h"' \
		  -e '"itest\.h"' -e 'agent/' tests/unit/*.c tests/fuzz/*.c)))

BINS	= $(ENDPOINTS:%=$(BUILD)/cgi-bin/%) $(CRONS:%=$(BUILD)/cron/%) \
	  $(TOOLS:%=$(BUILD)/tools/%) $(BUILD)/push/broadcaster

# The broadcaster: push/*.c, one program; main.c apart so the fuzzer can link the rest.
PUSH_SRC	= $(filter-out push/main.c,$(wildcard push/*.c))
PUSH_OBJ	= $(PUSH_SRC:%.c=$(BUILD)/obj/%.o)
PUSH_LIBS	= -lev -lwslay -lhttp_parser
TESTS	= $(UNITS:%=$(BUILD)/tests/%) $(ITESTS:%=$(BUILD)/itests/%)

.SECONDARY:

.PHONY: all asan fuzz fuzz-run build-all tests clean run start stop status \
	restart check-config token test bench bench-faults soak publish deps install uninstall \
	install-manifest deb FORCE

all: $(BINS)

# The sanitizer build: a separate tree, so both can exist side by side.
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=1 \
	    CFLAGS="-O1 -g" all tests

tests: $(TESTS)

build-all:
	$(Q)$(MAKE) --no-print-directory all tests
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)$(MAKE) --no-print-directory fuzz

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# The schema version the product needs, compiled into agent.c: the
# highest sql/NNNN-*.sql.  The programs refuse an older database (db.c).
# schema-version changes only when that number does, and agent.o with it.
SCHEMA_VERSION	:= $(shell ls sql | sed -n 's/^0*\([0-9][0-9]*\)-.*\.sql$$/\1/p' | sort -n | tail -n 1)
$(BUILD)/obj/agent/agent.o: override CFLAGS += -DSCHEMA_VERSION=$(SCHEMA_VERSION)
$(BUILD)/obj/agent/agent.o: $(BUILD)/schema-version
$(BUILD)/schema-version: FORCE
	@mkdir -p $(dir $@)
	@echo $(SCHEMA_VERSION) | cmp -s - $@ || echo $(SCHEMA_VERSION) >$@
FORCE:

$(LIBAGENT): $(AGENT_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

LINK	= @mkdir -p $(dir $@); $(if $(Q),echo "  LD      $@";) \
	  $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/cgi-bin/%: $(BUILD)/obj/cgi-bin/%.o $(LIBAGENT) $(LIBCOMMON)
	$(LINK)
$(BUILD)/cron/%: $(BUILD)/obj/cron/%.o $(LIBAGENT) $(LIBCOMMON)
	$(LINK)
$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(LIBAGENT) $(LIBCOMMON)
	$(LINK)

$(BUILD)/push/broadcaster: $(BUILD)/obj/push/main.o $(PUSH_OBJ) $(LIBCOMMON)
	$(LINK) $(PUSH_LIBS)

# Unit tests #include the .c file they test, so they link without it;
# the platform's link libcommon.a alone.
# (their .d files go apart: the harness runs everything in tests/ and itests/)
TEST_DEP = $(@:$(BUILD)/%=$(BUILD)/dep/%).d
TEST_CC	= @mkdir -p $(dir $@) $(dir $(TEST_DEP)); \
	  $(if $(Q),echo "  CC      $@";) \
	  $(CC) $(CFLAGS) $(DEPFLAGS) -MF $(TEST_DEP) -Itests/unit

$(PRODUCT_TESTS:%=$(BUILD)/tests/%): $(BUILD)/tests/%: tests/unit/%.c $(LIBAGENT) $(LIBCOMMON)
	$(TEST_CC) -Wno-missing-prototypes -o $@ $< $(LIBAGENT) $(LIBCOMMON) \
	    $(LDFLAGS) $(LDLIBS)
$(BUILD)/tests/%: tests/unit/%.c $(LIBCOMMON)
	$(TEST_CC) -Wno-missing-prototypes -o $@ $< $(LIBCOMMON) $(LDFLAGS) \
	    $(LDLIBS)

# Integration tests in C drive the libraries against a running stack.
$(BUILD)/itests/%: tests/integration/%.c $(LIBAGENT) $(LIBCOMMON)
	$(TEST_CC) -o $@ $< $(LIBAGENT) $(LIBCOMMON) $(LDFLAGS) $(LDLIBS)

# libFuzzer targets (tests/fuzz/*.c), built with clang into build/fuzz.
FUZZERS	= $(basename $(notdir $(wildcard tests/fuzz/*.c)))

fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz SAN=1 CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" \
	    $(FUZZERS:%=build/fuzz/fuzzers/%)

FUZZ_CC	= @mkdir -p $(dir $@) $(dir $(TEST_DEP)); \
	  $(if $(Q),echo "  FUZZ    $@";) \
	  $(CC) $(CFLAGS) $(DEPFLAGS) -MF $(TEST_DEP) -fsanitize=fuzzer

$(PRODUCT_TESTS:%=$(BUILD)/fuzzers/%): $(BUILD)/fuzzers/%: tests/fuzz/%.c $(LIBAGENT) $(LIBCOMMON)
	$(FUZZ_CC) -o $@ $< $(LIBAGENT) $(LIBCOMMON) $(LDFLAGS) $(LDLIBS)
$(BUILD)/fuzzers/%: tests/fuzz/%.c $(LIBCOMMON)
	$(FUZZ_CC) -o $@ $< $(LIBCOMMON) $(LDFLAGS) $(LDLIBS)

# The broadcaster's parsers: its objects too.
$(BUILD)/fuzzers/fuzz_push: tests/fuzz/fuzz_push.c $(PUSH_OBJ) $(LIBCOMMON)
	$(FUZZ_CC) -o $@ $< $(PUSH_OBJ) $(LIBCOMMON) $(LDFLAGS) $(LDLIBS) \
	    $(PUSH_LIBS)

# Run every fuzzer (nice -n 19) for FUZZ_SECONDS (default 60) or FUZZ_RUNS
# executions, report the executions of each, and merge what found new
# coverage into tests/fuzz/seeds/ (scripts/fuzz-run.sh).
fuzz-run: fuzz
	$(Q)scripts/fuzz-run.sh

clean:
	rm -rf build

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/dep/*/*.d)

deps:
	$(Q)scripts/deps.sh

# --- the stack (scripts/stack.sh does the work) --------------------------

STACK	= PORT=$(PORT) VAR=$(VAR) WEB=$(WEB) MODE=$(MODE) scripts/stack.sh

run: deps all
	$(Q)$(STACK) run

start: deps all
	$(Q)$(STACK) start

stop:
	$(Q)$(STACK) stop

status:
	$(Q)$(STACK) status

# Apply app.conf's changes to the running stack: checked first, then
# each program reloaded (SIGHUP) or restarted (see docs/operations.md).
restart: all
	$(Q)$(STACK) restart

check-config: all
	$(Q)$(STACK) check-config

token: all
	$(Q)$(STACK) token "$(SUB)" "$(ORG)"

# SUB only when given: its default (user_demo, for make token) would
# turn every event into one user's.
publish: all
	$(Q)$(STACK) publish "$(TENANT)" "$(if $(filter file,$(origin SUB)),,$(SUB))" "$(EVENT)" '$(DATA)'

test: deps build-all
	$(Q)perl tests/harness.pl

bench: deps all
	$(Q)VAR=$(VAR) WEB=$(WEB) scripts/bench.sh

# Faults under load alone (bench runs them too), and the soak (not in
# make test): SOAK_SECONDS (600) of mixed traffic, RSS at start and end.
bench-faults: deps all
	$(Q)VAR=$(VAR) WEB=$(WEB) scripts/bench-faults.sh

soak: deps all
	$(Q)VAR=$(VAR) WEB=$(WEB) scripts/soak.sh

# --- installing (FHS layout), uninstalling, the Debian package ---------------
#
# make install [DESTDIR=] [PREFIX=/usr/local] [SYSCONFDIR=/etc]
# [LOCALSTATEDIR=/var]: the endpoints the routes name, the cron binaries,
# the broadcaster and publish under LIBDIR, upwork-api-* commands in
# BINDIR and SBINDIR, the migrations in DATADIR/sql, app.conf (kept when
# present), the web server snippets, the systemd units, cron.d and
# logrotate.  scripts/dist.sh does the work; without DESTDIR, as root, it
# then runs LIBDIR/setup (system user, directories, secrets).  The
# configuration goes to /etc even under /usr/local: the web servers,
# cron and logrotate look nowhere else.

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib/upwork-api
DATADIR		?= $(PREFIX)/share/upwork-api
MANDIR		?= $(PREFIX)/share/man
SYSCONFDIR	?= /etc
LOCALSTATEDIR	?= /var
RUNSTATEDIR	?= /run
CONFDIR		?= $(SYSCONFDIR)/upwork-api
LOGDIR		?= $(LOCALSTATEDIR)/log/upwork-api
STATEDIR	?= $(LOCALSTATEDIR)/lib/upwork-api
# The units name the sockets %t/upwork-api/...: systemd's /run.
RUNDIR		?= $(RUNSTATEDIR)/upwork-api
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
APACHECONFDIR	?= $(SYSCONFDIR)/apache2/conf-available
LIGHTTPDCONFDIR	?= $(SYSCONFDIR)/lighttpd/conf-available
CRONDIR		?= $(SYSCONFDIR)/cron.d
LOGROTATEDIR	?= $(SYSCONFDIR)/logrotate.d
APPUSER		?= upwork-api
WEBGROUP	?= www-data
LOGGROUP	?= adm
PUSH_LISTEN	?= 127.0.0.1:8081
SPAWN_FCGI	?= /usr/bin/spawn-fcgi

DIST	= BUILD=$(BUILD) DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) BINDIR=$(BINDIR) \
	  SBINDIR=$(SBINDIR) LIBDIR=$(LIBDIR) DATADIR=$(DATADIR) MANDIR=$(MANDIR) \
	  CONFDIR=$(CONFDIR) \
	  LOGDIR=$(LOGDIR) STATEDIR=$(STATEDIR) RUNDIR=$(RUNDIR) \
	  SYSTEMDUNITDIR=$(SYSTEMDUNITDIR) APACHECONFDIR=$(APACHECONFDIR) \
	  LIGHTTPDCONFDIR=$(LIGHTTPDCONFDIR) CRONDIR=$(CRONDIR) \
	  LOGROTATEDIR=$(LOGROTATEDIR) APPUSER=$(APPUSER) WEBGROUP=$(WEBGROUP) \
	  LOGGROUP=$(LOGGROUP) PUSH_LISTEN=$(PUSH_LISTEN) SPAWN_FCGI=$(SPAWN_FCGI) \
	  scripts/dist.sh

install: all
	$(Q)$(DIST) install

uninstall:
	$(Q)$(DIST) uninstall

# Every file make install writes (MODE PATH SOURCE), for the tests.
install-manifest:
	$(Q)$(DIST) manifest

# make deb: upwork-api_<version>_<arch>.deb in DEBDIR, built by
# dpkg-buildpackage from debian/ in a copy of the tree (its clean step
# would remove build/).
DEBDIR		?= build/deb
DEB_VERSION	 = $(shell dpkg-parsechangelog -S Version)
DEB_ARCH	 = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_STAGE	 = $(DEBDIR)/src/upwork-api-$(DEB_VERSION)

deb:
	$(Q)rm -rf $(DEBDIR)/src && mkdir -p $(DEB_STAGE)
	$(Q)tar -cf - --exclude=./build --exclude=./var --exclude=./.git \
	    --exclude=node_modules --exclude='./$(DEBDIR)' . | tar -xf - -C $(DEB_STAGE)
	$(Q)cd $(DEB_STAGE) && dpkg-buildpackage -b -us -uc -j2 \
	    >../build.log 2>&1 || { tail -n 40 ../build.log; exit 1; }
	$(Q)mv -f $(DEBDIR)/src/*.deb $(DEBDIR)/
	$(Q)rm -rf $(DEBDIR)/src
	@echo "deb: $(DEBDIR)/upwork-api_$(DEB_VERSION)_$(DEB_ARCH).deb"
