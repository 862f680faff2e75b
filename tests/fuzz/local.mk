# tests/fuzz: libFuzzer targets for every parser that reads bytes someone
# else wrote (tests/fuzz/README).  Built and run by `make fuzz` only, when
# configure found a compiler that links -fsanitize=fuzzer (clang); each
# target compiles the code it fuzzes itself, so that code is instrumented.
#
#   make fuzz                   each target for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_SECONDS=20   what .ci/run does
#   make fuzz FUZZ_SECONDS=900 FUZZ_RUNS=10000000   the long run (each stops
#                               at whichever comes first)
#
# A crash, a leak, a timeout (FUZZ_TIMEOUT seconds for one input, default
# 10) or an out-of-memory fails it.  Seeds: tests/fuzz/corpus/<target>/.
FUZZ_TARGETS = \
	tests/fuzz/fuzz-control \
	tests/fuzz/fuzz-inbound \
	tests/fuzz/fuzz-ring \
	tests/fuzz/fuzz-reply \
	tests/fuzz/fuzz-config \
	tests/fuzz/fuzz-snapshot

FUZZ_SECONDS = 60
FUZZ_TIMEOUT = 10
FUZZ_RUNS =

EXTRA_PROGRAMS = $(FUZZ_TARGETS)
CLEANFILES += $(FUZZ_TARGETS)

FUZZ_CFLAGS_ = $(AM_CFLAGS) $(FUZZ_FLAGS)
FUZZ_LDFLAGS_ = $(AM_LDFLAGS) $(FUZZ_FLAGS)

tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz-control.c tests/fuzz/fuzz-common.h \
	src/ipcd/control.c $(IPCD_CORE_SOURCES) $(SHARED_SOURCES)
tests_fuzz_fuzz_control_CFLAGS = $(FUZZ_CFLAGS_)
tests_fuzz_fuzz_control_LDFLAGS = $(FUZZ_LDFLAGS_)

tests_fuzz_fuzz_inbound_SOURCES = tests/fuzz/fuzz-inbound.c tests/fuzz/fuzz-common.h \
	$(IPCD_CORE_SOURCES) $(SHARED_SOURCES)
tests_fuzz_fuzz_inbound_CFLAGS = $(FUZZ_CFLAGS_)
tests_fuzz_fuzz_inbound_LDFLAGS = $(FUZZ_LDFLAGS_)

tests_fuzz_fuzz_ring_SOURCES = tests/fuzz/fuzz-ring.c tests/fuzz/fuzz-common.h \
	$(IPCD_CORE_SOURCES) $(SHARED_SOURCES)
tests_fuzz_fuzz_ring_CFLAGS = $(FUZZ_CFLAGS_)
tests_fuzz_fuzz_ring_LDFLAGS = $(FUZZ_LDFLAGS_)

# The library's own sources (hidden visibility does not matter in an
# executable) and log.c for fuzz-common.h.
tests_fuzz_fuzz_reply_SOURCES = tests/fuzz/fuzz-reply.c tests/fuzz/fuzz-common.h \
	$(src_lib_libipcd_client_la_SOURCES) src/shared/log.c src/shared/log.h
tests_fuzz_fuzz_reply_CFLAGS = $(FUZZ_CFLAGS_)
tests_fuzz_fuzz_reply_LDFLAGS = $(FUZZ_LDFLAGS_)

tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c \
	src/ipcd/config.c src/ipcd/config.h src/ipcd/core/policy.c src/ipcd/core/policy.h \
	src/ipcd/core/units.c src/ipcd/core/units.h \
	$(SHARED_SOURCES)
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_CFLAGS_) $(LIBCONFIG_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_LDFLAGS_)
tests_fuzz_fuzz_config_LDADD = $(LIBCONFIG_LIBS)

tests_fuzz_fuzz_snapshot_SOURCES = tests/fuzz/fuzz-snapshot.c tests/fuzz/fuzz-common.h \
	$(IPCD_CORE_SOURCES) $(SHARED_SOURCES)
tests_fuzz_fuzz_snapshot_CFLAGS = $(FUZZ_CFLAGS_)
tests_fuzz_fuzz_snapshot_LDFLAGS = $(FUZZ_LDFLAGS_)

EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/README tests/fuzz/corpus tests/fuzz/lsan.supp

if HAVE_LIBFUZZER
fuzz: $(FUZZ_TARGETS) src/ipcd/ipcd
	$(AM_V_at)IPCD='$(abs_top_builddir)/src/ipcd/ipcd' FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_TIMEOUT='$(FUZZ_TIMEOUT)' FUZZ_RUNS='$(FUZZ_RUNS)' \
	$(SHELL) $(top_srcdir)/tests/fuzz/run.sh '$(abs_top_builddir)/tests/fuzz' \
		'$(abs_top_srcdir)/tests/fuzz/corpus' $(notdir $(FUZZ_TARGETS))
else
fuzz:
	@echo "make fuzz: $(CC) cannot link -fsanitize=fuzzer: configure with CC=clang" >&2; exit 1
endif
.PHONY: fuzz
