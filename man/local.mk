# man/: the manual pages (mdoc), checked by mandoc -Tlint in make check.
dist_man_MANS += \
	man/ipcd.8 \
	man/ipcdctl.8 \
	man/ipcd.conf.5 \
	man/libipcd-client.3

TESTS += man/test-mandoc.sh
EXTRA_DIST += man/test-mandoc.sh
