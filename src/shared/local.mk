# src/shared: code both sides share (never installed).  Two flavours:
# libshared.la for the daemon and ipcdctl, libshared-pic.la (hidden
# visibility) linked into the client library.
SHARED_SOURCES = \
	src/shared/clock.c src/shared/clock.h \
	src/shared/macro.h \
	src/shared/log.c src/shared/log.h \
	src/shared/names.c src/shared/names.h \
	src/shared/rules.c src/shared/rules.h \
	src/shared/util.c src/shared/util.h \
	src/shared/wire.c src/shared/wire.h \
	src/shared/ipcstate.c src/shared/ipcstate.h \
	src/shared/ctlchan.c src/shared/ctlchan.h \
	src/shared/ringfmt.h

noinst_LTLIBRARIES += src/shared/libshared.la
src_shared_libshared_la_SOURCES = $(SHARED_SOURCES)
src_shared_libshared_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

# The unit tests' CHECK macros and main boilerplate, included by every src/**/test-*.c.
EXTRA_DIST += src/shared/test-util.h

# Unit tests beside the code they test.
check_PROGRAMS += src/shared/test-wire src/shared/test-names
TESTS += src/shared/test-wire src/shared/test-names
src_shared_test_wire_SOURCES = src/shared/test-wire.c
src_shared_test_wire_LDADD = src/shared/libshared.la
src_shared_test_names_SOURCES = src/shared/test-names.c
src_shared_test_names_LDADD = src/shared/libshared.la

check_PROGRAMS += src/shared/test-ctlchan
TESTS += src/shared/test-ctlchan
src_shared_test_ctlchan_SOURCES = src/shared/test-ctlchan.c
src_shared_test_ctlchan_LDADD = src/shared/libshared.la

check_PROGRAMS += src/shared/test-ipcstate
TESTS += src/shared/test-ipcstate
src_shared_test_ipcstate_SOURCES = src/shared/test-ipcstate.c
src_shared_test_ipcstate_LDADD = src/shared/libshared.la
