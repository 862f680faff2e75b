# bench/: ipcd-bench, which measures ipcd and its baselines (two-hop
# floor, System V queue, pipe, Unix socket) and peers (D-Bus through
# dbus-broker and dbus-daemon, ZeroMQ) side by side in one run.  Built by
# `make`, never installed; `make bench` runs the standard suite and writes
# bench/results/latest.{txt,csv,png}.  The optional peers need no build
# dependency: sd-bus comes with libsystemd, libzmq is dlopen()ed, and a
# missing one is reported as skipped at run time.
noinst_PROGRAMS += bench/ipcd-bench
bench_ipcd_bench_SOURCES = \
	bench/ipcd-bench.c \
	bench/bench.h \
	bench/bench-util.c \
	bench/run.c \
	bench/transports.c \
	bench/floor-shm.c \
	bench/dbus.c \
	bench/zmq.c \
	bench/drv-ipcd.c \
	bench/python.c \
	bench/drv-chan.c \
	bench/bridge.c
bench_ipcd_bench_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS)
# Section 8 runs python/bench.py with the configured interpreter against
# the build tree's package (without the binding it says it is skipped).
if ENABLE_PYTHON
bench_ipcd_bench_CPPFLAGS = $(AM_CPPFLAGS) -DBENCH_PYTHON='"$(PYTHON)"' \
	-DBENCH_PY_SCRIPT='"$(abs_top_srcdir)/python/bench.py"' \
	-DBENCH_PY_PATH='"$(abs_top_builddir)/python"'
endif
# Only the public API, like any application.  -no-install: no libtool
# wrapper script, so the binary finds ../src/ipcd/ipcd next to itself.
bench_ipcd_bench_LDADD = src/lib/libipcd-client.la $(LIBSYSTEMD_LIBS) -ldl -lm
bench_ipcd_bench_LDFLAGS = $(AM_LDFLAGS) -no-install
# Section 9 (--bridge): its direct NATS pair needs libnats, like
# ipcd-bridge; without it the section says so and --bridge exits 77.
if ENABLE_BRIDGE
bench_ipcd_bench_SOURCES += bench/nats.c
bench_ipcd_bench_CFLAGS += $(LIBNATS_CFLAGS) -DBENCH_NATS=1
bench_ipcd_bench_LDADD += $(LIBNATS_LIBS)
endif

# Smoke test: a --quick run produces results for every available
# transport.  It never asserts a timing.
TESTS += bench/test-bench.sh
# Smoke test of --bridge (section 9) with tiny counts; 77 without
# nats-server, libnats or ipcd-bridge.
TESTS += bench/test-bench-bridge.sh
EXTRA_DIST += bench/run-bench.sh bench/test-bench.sh bench/test-bench-bridge.sh bench/plot.gp

# The standard suite (< 5 minutes on 2 cores).  Results go to the build
# tree's bench/results/ (latest.txt, latest.csv, latest.png with gnuplot,
# and a dated copy of the text).
bench: all
	$(SHELL) $(top_srcdir)/bench/run-bench.sh '$(abs_top_builddir)'

# Section 9 alone, not part of `make bench`: topics across two IPC
# namespaces through ipcd-bridge and a nats-server, against a direct NATS
# pair (issue 14).  Results in bench/results/bridge/.
bench-bridge: all
	$(MKDIR_P) '$(abs_top_builddir)/bench/results/bridge'
	$(abs_top_builddir)/bench/ipcd-bench --bridge --out '$(abs_top_builddir)/bench/results/bridge'
.PHONY: bench bench-bridge
