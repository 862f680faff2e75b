# systemd/: units, sysusers.d and tmpfiles.d snippets.
# @sbindir@ is substituted here, not by AC_CONFIG_FILES: configure would
# leave ${exec_prefix} in it unexpanded (STYLE.md).  Generated files go to
# the build directory.
systemdsystemunit_DATA = systemd/ipcd.service systemd/ipcd.socket \
	systemd/ipcd-metrics.socket systemd/ipcd-metrics@.service
# Installed as $(sysusersdir)/ipcd.conf and $(tmpfilesdir)/ipcd.conf: the
# build copies them under that name so that no install hook is needed.
sysusers_DATA = systemd/sysusers.d/ipcd.conf
if ENABLE_BRIDGE
systemdsystemunit_DATA += systemd/ipcd-bridge.service
endif
tmpfiles_DATA = systemd/tmpfiles.d/ipcd.conf

systemd/ipcd.service: $(top_srcdir)/systemd/ipcd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' $(top_srcdir)/systemd/ipcd.service.in >$@.tmp && \
	mv -f $@.tmp $@

systemd/ipcd-bridge.service: $(top_srcdir)/systemd/ipcd-bridge.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' $(top_srcdir)/systemd/ipcd-bridge.service.in >$@.tmp && \
	mv -f $@.tmp $@

systemd/ipcd-metrics@.service: $(top_srcdir)/systemd/ipcd-metrics@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@bindir[@]|$(bindir)|g' $(top_srcdir)/systemd/ipcd-metrics@.service.in >$@.tmp && \
	mv -f $@.tmp $@

systemd/sysusers.d/ipcd.conf: $(top_srcdir)/systemd/ipcd.sysusers
	$(AM_V_GEN)$(MKDIR_P) systemd/sysusers.d && cp $(top_srcdir)/systemd/ipcd.sysusers $@

systemd/tmpfiles.d/ipcd.conf: $(top_srcdir)/systemd/ipcd.tmpfiles
	$(AM_V_GEN)$(MKDIR_P) systemd/tmpfiles.d && cp $(top_srcdir)/systemd/ipcd.tmpfiles $@

CLEANFILES += systemd/ipcd.service systemd/ipcd-bridge.service systemd/ipcd-metrics@.service systemd/sysusers.d/ipcd.conf systemd/tmpfiles.d/ipcd.conf
EXTRA_DIST += \
	systemd/ipcd.service.in systemd/ipcd.socket systemd/ipcd-bridge.service.in \
	systemd/ipcd-metrics@.service.in systemd/ipcd-metrics.socket \
	systemd/ipcd.sysusers systemd/ipcd.tmpfiles \
	systemd/test-units.sh

# systemd-analyze verify on the units (skipped without systemd-analyze).
TESTS += systemd/test-units.sh
