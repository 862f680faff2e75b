# src/bridge: ipcd-bridge, topics across hosts through NATS (libnats).
# Built with --with-nats (the default when libnats is found).
if ENABLE_BRIDGE
sbin_PROGRAMS += src/bridge/ipcd-bridge
src_bridge_ipcd_bridge_SOURCES = \
	src/bridge/bridge.h \
	src/bridge/calls.c \
	src/bridge/config.c \
	src/bridge/jetstream.c \
	src/bridge/main.c \
	src/bridge/mapping.c \
	src/bridge/nats.c \
	src/bridge/natsint.h
src_bridge_ipcd_bridge_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(LIBNATS_CFLAGS)
src_bridge_ipcd_bridge_LDADD = src/lib/libipcd-client.la src/shared/libshared.la \
	$(LIBCONFIG_LIBS) $(LIBNATS_LIBS)

check_PROGRAMS += src/bridge/test-mapping
TESTS += src/bridge/test-mapping
src_bridge_test_mapping_SOURCES = src/bridge/test-mapping.c src/bridge/mapping.c
src_bridge_test_mapping_LDADD = src/lib/libipcd-client.la
endif
