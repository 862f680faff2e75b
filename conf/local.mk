# conf/: the shipped configuration, every key commented out (defaults).
ipcdconfdir = $(sysconfdir)/ipcd
dist_ipcdconf_DATA = conf/ipcd.conf

# ipcd --check-config accepts it (needs the daemon: $IPCD).
TESTS += conf/test-conf.sh
EXTRA_DIST += conf/test-conf.sh
