# src/ipcd: the daemon.  The core (router.c, msgq.c) knows nothing of
# libsystemd or libconfig; event.c alone talks to libsystemd and config.c
# alone to libconfig.
sbin_PROGRAMS += src/ipcd/ipcd
IPCD_CORE_SOURCES = \
	src/ipcd/msgq.c src/ipcd/msgq.h \
	src/ipcd/policy.c src/ipcd/policy.h \
	src/ipcd/router.c src/ipcd/router.h \
	src/ipcd/ring.c src/ipcd/ring.h \
	src/ipcd/topics.c src/ipcd/topics.h
src_ipcd_ipcd_SOURCES = \
	$(IPCD_CORE_SOURCES) \
	src/ipcd/config.c src/ipcd/config.h \
	src/ipcd/control.c \
	src/ipcd/daemon.h \
	src/ipcd/event.c \
	src/ipcd/main.c \
	src/ipcd/rundir.c
src_ipcd_ipcd_CFLAGS = $(AM_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(LIBCONFIG_CFLAGS)
src_ipcd_ipcd_LDADD = src/shared/libshared.la $(LIBSYSTEMD_LIBS) $(LIBCONFIG_LIBS)

check_PROGRAMS += src/ipcd/test-router src/ipcd/test-ring src/ipcd/test-topics
TESTS += src/ipcd/test-router src/ipcd/test-ring src/ipcd/test-topics
src_ipcd_test_router_SOURCES = src/ipcd/test-router.c $(IPCD_CORE_SOURCES)
src_ipcd_test_router_LDADD = src/shared/libshared.la
src_ipcd_test_ring_SOURCES = src/ipcd/test-ring.c $(IPCD_CORE_SOURCES)
src_ipcd_test_ring_LDADD = src/shared/libshared.la
src_ipcd_test_topics_SOURCES = src/ipcd/test-topics.c $(IPCD_CORE_SOURCES)
src_ipcd_test_topics_LDADD = src/shared/libshared.la

include src/ipcd/config.mk

# The control-line reader, with event.c's functions stubbed.
check_PROGRAMS += src/ipcd/test-control
TESTS += src/ipcd/test-control
src_ipcd_test_control_SOURCES = src/ipcd/test-control.c src/ipcd/control.c $(IPCD_CORE_SOURCES)
src_ipcd_test_control_LDADD = src/shared/libshared.la
