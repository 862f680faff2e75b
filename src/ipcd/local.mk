# src/ipcd: the daemon.  Its core (src/ipcd/core, IPCD_CORE_SOURCES) knows
# nothing of libsystemd or libconfig; the edges here do: config.c alone
# talks to libconfig, event.c and main.c (sd_listen_fds) to libsystemd.
include src/ipcd/core/local.mk

sbin_PROGRAMS += src/ipcd/ipcd
src_ipcd_ipcd_SOURCES = \
	$(IPCD_CORE_SOURCES) \
	src/ipcd/config.c src/ipcd/config.h \
	src/ipcd/control.c \
	src/ipcd/daemon.h \
	src/ipcd/event.c \
	src/ipcd/main.c \
	src/ipcd/reexec.c \
	src/ipcd/rundir.c \
	src/ipcd/sentinel.c
src_ipcd_ipcd_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(LIBCONFIG_CFLAGS)
src_ipcd_ipcd_LDADD = src/shared/libshared.la $(LIBSYSTEMD_LIBS) $(LIBCONFIG_LIBS)

include src/ipcd/config.mk

# The control-line reader, with event.c's functions stubbed.
check_PROGRAMS += src/ipcd/test-control
TESTS += src/ipcd/test-control
src_ipcd_test_control_SOURCES = src/ipcd/test-control.c src/ipcd/control.c $(IPCD_CORE_SOURCES)
src_ipcd_test_control_LDADD = src/shared/libshared.la
