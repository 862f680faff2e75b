# src/ipcd/config.mk: the unit test of config.c (included from
# src/ipcd/local.mk; the daemon links config.c itself).
check_PROGRAMS += src/ipcd/test-config
TESTS += src/ipcd/test-config
src_ipcd_test_config_SOURCES = \
	src/ipcd/test-config.c \
	src/ipcd/config.c src/ipcd/config.h \
	src/ipcd/core/policy.c src/ipcd/core/policy.h \
	src/ipcd/core/units.c src/ipcd/core/units.h
src_ipcd_test_config_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS)
src_ipcd_test_config_LDADD = src/shared/libshared.la $(LIBCONFIG_LIBS)
