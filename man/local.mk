# man/: the manual pages (mdoc), checked by mandoc -Tlint in make check.
dist_man_MANS += \
	man/ipcd.8 \
	man/ipcdctl.8 \
	man/ipcd.conf.5 \
	man/libipcd-client.3

# ipcd-bridge(8) is installed with ipcd-bridge (--with-nats), always shipped.
EXTRA_DIST += man/ipcd-bridge.8
if ENABLE_BRIDGE
man_MANS = man/ipcd-bridge.8
endif

TESTS += man/test-mandoc.sh
EXTRA_DIST += man/test-mandoc.sh
