# src/ipcdctl: the admin tool, and the example client of the README.
bin_PROGRAMS += src/ipcdctl/ipcdctl
src_ipcdctl_ipcdctl_SOURCES = \
	src/ipcdctl/ipcdctl.c src/ipcdctl/ipcdctl.h \
	src/ipcdctl/status.c \
	src/ipcdctl/reexec.c \
	src/ipcdctl/monitor.c \
	src/ipcdctl/metrics.c \
	src/ipcdctl/top.c \
	src/ipcdctl/policy.c \
	src/ipcdctl/json.c src/ipcdctl/json.h
src_ipcdctl_ipcdctl_CFLAGS = $(AM_CFLAGS) $(NCURSES_CFLAGS)
src_ipcdctl_ipcdctl_LDADD = src/lib/libipcd-client.la src/shared/libshared.la $(NCURSES_LIBS)

# Unit test of the JSON writer, escaper and validator; also a validator
# for scripts: `test-json --validate < FILE`.
check_PROGRAMS += src/ipcdctl/test-json
TESTS += src/ipcdctl/test-json
src_ipcdctl_test_json_SOURCES = src/ipcdctl/test-json.c src/ipcdctl/json.c src/ipcdctl/json.h

# ipcdctl against a real ipcd in a private IPC namespace (uses
# tests/harness.sh, and test-ctl-client to subscribe and publish); the
# README's example is examples/hello.c.
check_PROGRAMS += src/ipcdctl/test-ctl-client
src_ipcdctl_test_ctl_client_SOURCES = src/ipcdctl/test-ctl-client.c
src_ipcdctl_test_ctl_client_LDADD = src/lib/libipcd-client.la
TESTS += src/ipcdctl/test-ipcdctl.sh src/ipcdctl/test-readme-example.sh
EXTRA_DIST += src/ipcdctl/test-ipcdctl.sh src/ipcdctl/test-readme-example.sh

# The README's example program: built in every build so it keeps compiling.
noinst_PROGRAMS += examples/hello
examples_hello_SOURCES = examples/hello.c
examples_hello_LDADD = src/lib/libipcd-client.la
