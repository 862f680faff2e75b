# src/lib: libipcd-client, the client library (installed with <ipcd.h>
# and libipcd-client.pc).
lib_LTLIBRARIES += src/lib/libipcd-client.la
include_HEADERS += include/ipcd.h

# The shared code the library needs is compiled into it, hidden.  It does
# not link src/shared/libshared.la: that one carries log.c (process-wide
# logging state) and ipcstate.c, which have no place in an application's
# address space.
src_lib_libipcd_client_la_SOURCES = \
	src/lib/client.h \
	src/lib/pending.c \
	src/lib/client.c \
	src/lib/answer.c \
	src/lib/dispatch.c \
	src/lib/wait.c \
	src/lib/request.c \
	src/lib/replay.c \
	src/lib/batch.c \
	src/lib/flow.c \
	src/lib/bulk.c \
	src/lib/channel.c \
	src/shared/chanfmt.h \
	src/lib/fd.c \
	src/lib/subscribe.c \
	src/lib/call.c \
	src/lib/recv.c \
	src/lib/unit.c \
	src/lib/send.c \
	src/lib/handle.c \
	src/shared/clock.c src/shared/clock.h \
	src/shared/ctlchan.c src/shared/ctlchan.h \
	src/shared/macro.h \
	src/shared/names.c src/shared/names.h \
	src/shared/util.c src/shared/util.h \
	src/shared/wire.c src/shared/wire.h
src_lib_libipcd_client_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
src_lib_libipcd_client_la_LDFLAGS = $(AM_LDFLAGS) \
	-version-info $(LIBIPCD_CLIENT_CURRENT):$(LIBIPCD_CLIENT_REVISION):$(LIBIPCD_CLIENT_AGE) \
	-Wl,--version-script=$(top_srcdir)/src/lib/libipcd-client.sym
# Sanitizer runtimes come from the executable: only a plain build can
# insist that the library resolves every symbol itself.
if !ENABLE_SANITIZERS
src_lib_libipcd_client_la_LDFLAGS += -Wl,--no-undefined
endif
EXTRA_src_lib_libipcd_client_la_DEPENDENCIES = $(top_srcdir)/src/lib/libipcd-client.sym

# pkg-config file, substituted here (configure would leave ${prefix}
# unexpanded in some variables).
pkgconfig_DATA += src/lib/libipcd-client.pc
CLEANFILES += src/lib/libipcd-client.pc
src/lib/libipcd-client.pc: $(top_srcdir)/src/lib/libipcd-client.pc.in Makefile
	$(AM_V_GEN)$(MKDIR_P) src/lib && \
	sed -e 's|@prefix[@]|$(prefix)|g' \
	    -e 's|@exec_prefix[@]|$(exec_prefix)|g' \
	    -e 's|@libdir[@]|$(libdir)|g' \
	    -e 's|@includedir[@]|$(includedir)|g' \
	    -e 's|@VERSION[@]|$(VERSION)|g' \
	    $(top_srcdir)/src/lib/libipcd-client.pc.in >$@.tmp && mv $@.tmp $@

EXTRA_DIST += \
	src/lib/libipcd-client.pc.in \
	src/lib/libipcd-client.sym \
	src/lib/test-symbols.sh

# Exported symbols == the version script.
TESTS += src/lib/test-symbols.sh

# The library against a fake ipcd in the test process (wire-level cases
# the real daemon rarely produces); the real one is tested in tests/.
check_PROGRAMS += src/lib/test-client
TESTS += src/lib/test-client
src_lib_test_client_SOURCES = src/lib/test-client.c
src_lib_test_client_LDADD = src/lib/libipcd-client.la src/shared/libshared.la

# Example programs (man page, README): built in every build so that they
# keep compiling.
noinst_PROGRAMS += examples/epoll examples/pubsub examples/call
examples_epoll_SOURCES = examples/epoll.c
examples_epoll_LDADD = src/lib/libipcd-client.la
examples_pubsub_SOURCES = examples/pubsub.c
examples_pubsub_LDADD = src/lib/libipcd-client.la
examples_call_SOURCES = examples/call.c
examples_call_LDADD = src/lib/libipcd-client.la
