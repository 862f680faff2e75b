# tests/: integration tests.  Each test-*.sh starts a real ipcd in its own
# IPC namespace on a temporary runtime directory (tests/harness.sh) and
# runs the C program of the same name, built here, against it.  See
# tests/README.

ITEST_LIBS = src/lib/libipcd-client.la src/shared/libshared.la
ITEST_COMMON = tests/tlib.c tests/tlib.h

# C test programs (driven by their .sh) and the helper the shell tests use.
check_PROGRAMS += \
	tests/test-probe \
	tests/test-unicast \
	tests/test-names \
	tests/test-select \
	tests/test-threads \
	tests/test-uid \
	tests/test-hostile \
	tests/test-death \
	tests/test-overflow \
	tests/test-restart \
	tests/test-reexec \
	tests/test-downtime

tests_test_probe_SOURCES = tests/test-probe.c $(ITEST_COMMON)
tests_test_probe_LDADD = $(ITEST_LIBS)
tests_test_unicast_SOURCES = tests/test-unicast.c $(ITEST_COMMON)
tests_test_unicast_LDADD = $(ITEST_LIBS)
tests_test_names_SOURCES = tests/test-names.c $(ITEST_COMMON)
tests_test_names_LDADD = $(ITEST_LIBS)
tests_test_select_SOURCES = tests/test-select.c $(ITEST_COMMON)
tests_test_select_LDADD = $(ITEST_LIBS)
tests_test_threads_SOURCES = tests/test-threads.c $(ITEST_COMMON)
tests_test_threads_LDADD = $(ITEST_LIBS)
tests_test_uid_SOURCES = tests/test-uid.c $(ITEST_COMMON)
tests_test_uid_LDADD = $(ITEST_LIBS)
tests_test_hostile_SOURCES = tests/test-hostile.c $(ITEST_COMMON)
tests_test_hostile_LDADD = $(ITEST_LIBS)
tests_test_death_SOURCES = tests/test-death.c $(ITEST_COMMON)
tests_test_death_LDADD = $(ITEST_LIBS)
tests_test_overflow_SOURCES = tests/test-overflow.c $(ITEST_COMMON)
tests_test_overflow_LDADD = $(ITEST_LIBS)
tests_test_restart_SOURCES = tests/test-restart.c $(ITEST_COMMON)
tests_test_restart_LDADD = $(ITEST_LIBS)
tests_test_reexec_SOURCES = tests/test-reexec.c $(ITEST_COMMON)
tests_test_reexec_LDADD = $(ITEST_LIBS)
tests_test_downtime_SOURCES = tests/test-downtime.c $(ITEST_COMMON)
tests_test_downtime_LDADD = $(ITEST_LIBS)

# The slowest first, so that `make -j check` finishes sooner.
INTEGRATION_TESTS = \
	tests/test-reexec.sh \
	tests/test-downtime.sh \
	tests/test-select.sh \
	tests/test-threads.sh \
	tests/test-overflow.sh \
	tests/test-restart.sh \
	tests/test-unicast.sh \
	tests/test-names.sh \
	tests/test-uid.sh \
	tests/test-hostile.sh \
	tests/test-death.sh \
	tests/test-sigterm.sh \
	tests/test-second.sh \
	tests/test-cli.sh \
	tests/test-ipcdctl.sh

TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/harness.sh tests/README

# Bulk payloads through the ring (issue 4).
check_PROGRAMS += tests/test-bulk
tests_test_bulk_SOURCES = tests/test-bulk.c $(ITEST_COMMON)
tests_test_bulk_LDADD = $(ITEST_LIBS)
TESTS += tests/test-bulk.sh
EXTRA_DIST += tests/test-bulk.sh

# Publish/subscribe, calls, ipcd_fd (issue 5, library side).
check_PROGRAMS += tests/test-pubsub tests/test-calls tests/test-fd
tests_test_pubsub_SOURCES = tests/test-pubsub.c $(ITEST_COMMON)
tests_test_pubsub_LDADD = $(ITEST_LIBS)
tests_test_calls_SOURCES = tests/test-calls.c $(ITEST_COMMON)
tests_test_calls_LDADD = $(ITEST_LIBS)
tests_test_fd_SOURCES = tests/test-fd.c $(ITEST_COMMON)
tests_test_fd_LDADD = $(ITEST_LIBS)
TESTS += tests/test-pubsub.sh tests/test-calls.sh tests/test-fd.sh
EXTRA_DIST += tests/test-pubsub.sh tests/test-calls.sh tests/test-fd.sh

# IPCD_MORE: sends held by the library and sent together.
check_PROGRAMS += tests/test-more
tests_test_more_SOURCES = tests/test-more.c $(ITEST_COMMON)
tests_test_more_LDADD = $(ITEST_LIBS)
TESTS += tests/test-more.sh
EXTRA_DIST += tests/test-more.sh

# Issue 10's attacks, one file per family, as an unprivileged uid against a
# real ipcd.  Each is in XFAIL_TESTS until its finding is fixed: whoever
# fixes a finding removes its test from XFAIL_TESTS.
ATTACK_TESTS = \
	tests/test-attack-history \
	tests/test-attack-flood \
	tests/test-attack-books \
	tests/test-attack-death \
	tests/test-attack-names

check_PROGRAMS += $(ATTACK_TESTS)
tests_test_attack_books_SOURCES = tests/test-attack-books.c $(ITEST_COMMON)
tests_test_attack_books_LDADD = $(ITEST_LIBS)
tests_test_attack_death_SOURCES = tests/test-attack-death.c $(ITEST_COMMON)
tests_test_attack_death_LDADD = $(ITEST_LIBS)
tests_test_attack_names_SOURCES = tests/test-attack-names.c $(ITEST_COMMON)
tests_test_attack_names_LDADD = $(ITEST_LIBS)
tests_test_attack_flood_SOURCES = tests/test-attack-flood.c $(ITEST_COMMON)
tests_test_attack_flood_LDADD = $(ITEST_LIBS)
tests_test_attack_history_SOURCES = tests/test-attack-history.c $(ITEST_COMMON)
tests_test_attack_history_LDADD = $(ITEST_LIBS)
TESTS += $(ATTACK_TESTS:=.sh)
EXTRA_DIST += $(ATTACK_TESTS:=.sh)

# Stray bytes on the control FIFO (issue 10, finding 2).
check_PROGRAMS += tests/test-stray
tests_test_stray_SOURCES = tests/test-stray.c $(ITEST_COMMON)
tests_test_stray_LDADD = $(ITEST_LIBS)
TESTS += tests/test-stray.sh
EXTRA_DIST += tests/test-stray.sh

# The state file's size and crash clean-up (issue 10, finding 4).
check_PROGRAMS += tests/test-statefile
tests_test_statefile_SOURCES = tests/test-statefile.c $(ITEST_COMMON)
tests_test_statefile_LDADD = $(ITEST_LIBS)
TESTS += tests/test-statefile.sh
EXTRA_DIST += tests/test-statefile.sh

# SIGHUP applies every key or names it (issue 10, finding 9).
check_PROGRAMS += tests/test-reload
tests_test_reload_SOURCES = tests/test-reload.c $(ITEST_COMMON)
tests_test_reload_LDADD = $(ITEST_LIBS)
TESTS += tests/test-reload.sh
EXTRA_DIST += tests/test-reload.sh

# The access rules across uids, groups and units (issue 13).
check_PROGRAMS += tests/test-policy
tests_test_policy_SOURCES = tests/test-policy.c $(ITEST_COMMON)
tests_test_policy_LDADD = $(ITEST_LIBS)
TESTS += tests/test-policy.sh tests/test-policy-ctl.sh tests/test-unit.sh tests/test-unit-limits.sh tests/test-reexec-units.sh
EXTRA_DIST += tests/test-policy.sh tests/test-policy-ctl.sh tests/test-unit.sh tests/test-unit-limits.sh tests/test-reexec-units.sh

# Issue 10's remaining attacks (findings 3, 7, 8), same rules as above.
ATTACK_TESTS2 = \
	tests/test-attack-quota \
	tests/test-attack-status \
	tests/test-attack-lanes

check_PROGRAMS += $(ATTACK_TESTS2)
tests_test_attack_quota_SOURCES = tests/test-attack-quota.c $(ITEST_COMMON)
tests_test_attack_quota_LDADD = $(ITEST_LIBS)
tests_test_attack_status_SOURCES = tests/test-attack-status.c $(ITEST_COMMON)
tests_test_attack_status_LDADD = $(ITEST_LIBS)
tests_test_attack_lanes_SOURCES = tests/test-attack-lanes.c $(ITEST_COMMON)
tests_test_attack_lanes_LDADD = $(ITEST_LIBS)
TESTS += $(ATTACK_TESTS2:=.sh)
EXTRA_DIST += $(ATTACK_TESTS2:=.sh)

# Flow control: lossless unicast and bulk by default (issue 11).
check_PROGRAMS += tests/test-flow
tests_test_flow_SOURCES = tests/test-flow.c $(ITEST_COMMON)
tests_test_flow_LDADD = $(ITEST_LIBS)
TESTS += tests/test-flow.sh
EXTRA_DIST += tests/test-flow.sh
check_PROGRAMS += tests/test-flow-budget
tests_test_flow_budget_SOURCES = tests/test-flow-budget.c $(ITEST_COMMON)
tests_test_flow_budget_LDADD = $(ITEST_LIBS)
TESTS += tests/test-flow-budget.sh
EXTRA_DIST += tests/test-flow-budget.sh

# Debian packages built, linted, installed, upgraded and purged in the systemd sandbox (issue 15).
TESTS += tests/test-deb.sh
EXTRA_DIST += tests/test-deb.sh

# debian/ goes into the tarball whole (dist-hook), not as a list that a new
# file could be missing from.  In a git checkout: every file git tracks or
# would track (untracked and not ignored); .gitignore keeps out what a
# dpkg-buildpackage in the tree leaves there.  In a tree without git (an
# unpacked tarball, where make distcheck runs its second dist): every file
# but those debhelper products.  tests/test-deb.sh builds the packages out
# of a `make distdir` copy, so a file left out fails it.
dist-hook: dist-hook-debian
dist-hook-debian:
	$(AM_V_at)dest=$$(cd "$(distdir)" && pwd) && cd $(srcdir) && \
	if git ls-files --error-unmatch debian/control >/dev/null 2>&1; then \
	    files=$$(git ls-files --cached --others --exclude-standard -- debian) || exit 1; \
	else \
	    pkgs=$$(sed -n 's/^Package: *//p' debian/control); \
	    files=$$(find debian -type f | while read -r f; do \
	        case "$$f" in \
	        debian/.debhelper/* | debian/tmp/* | debian/files | debian/*.substvars | \
	        debian/*.debhelper | debian/*.debhelper.log | debian/debhelper-build-stamp | \
	        debian/autoreconf.*) continue ;; \
	        esac; \
	        for p in $$pkgs; do case "$$f" in debian/$$p/*) continue 2 ;; esac; done; \
	        echo "$$f"; \
	    done); \
	fi; \
	test -n "$$files" || { echo "dist-hook: no files in debian/" >&2; exit 1; }; \
	for f in $$files; do \
	    $(MKDIR_P) "$$dest/$${f%/*}" && cp -p "$$f" "$$dest/$$f" || exit 1; \
	done
.PHONY: dist-hook-debian

# ipcdctl metrics (parsed by python3-prometheus-client) and metrics --http,
# ipcdctl top driven in tmux (issue 13).  test-ctl-client makes the traffic.
TESTS += tests/test-metrics.sh tests/test-top.sh
EXTRA_DIST += tests/test-metrics.sh tests/test-top.sh

# Direct channels (issue 16).
check_PROGRAMS += tests/test-channel
tests_test_channel_SOURCES = tests/test-channel.c $(ITEST_COMMON)
tests_test_channel_LDADD = $(ITEST_LIBS)
TESTS += tests/test-channel.sh
EXTRA_DIST += tests/test-channel.sh

# The kill -9 matrix (issue 12): each case its own test.
check_PROGRAMS += tests/test-kill9
tests_test_kill9_SOURCES = tests/test-kill9.c $(ITEST_COMMON)
tests_test_kill9_LDADD = $(ITEST_LIBS)
KILL9_TESTS = \
	tests/test-kill9-ipcd.sh \
	tests/test-kill9-paused.sh \
	tests/test-kill9-callee.sh \
	tests/test-kill9-holding.sh \
	tests/test-kill9-inflight.sh \
	tests/test-kill9-alloc.sh \
	tests/test-kill9-more.sh \
	tests/test-kill9-recv.sh \
	tests/test-kill9-idle.sh
TESTS += $(KILL9_TESTS)
EXTRA_DIST += $(KILL9_TESTS) tests/test-kill9.sh

# ipcd-bridge across two IPC namespaces and a 3-node NATS cluster.
if ENABLE_BRIDGE
check_PROGRAMS += tests/test-bridge
tests_test_bridge_SOURCES = tests/test-bridge.c
tests_test_bridge_LDADD = src/lib/libipcd-client.la
endif
# It skips (77) where nats-server or ipcd-bridge (libnats) is missing.
TESTS += tests/test-bridge.sh
EXTRA_DIST += tests/test-bridge.sh

# The soak (tests/soak.sh DURATION, default 10 minutes): not in make check;
# its load generator is built with the tests (`make check` or
# `make tests/soak-load`).  `make soak` runs it (SOAK_SECONDS, default 600).
check_PROGRAMS += tests/soak-load
tests_soak_load_SOURCES = tests/soak-load.c $(ITEST_COMMON)
tests_soak_load_LDADD = $(ITEST_LIBS)
EXTRA_DIST += tests/soak.sh
SOAK_SECONDS = 600
soak: tests/soak-load tests/test-probe src/ipcd/ipcd src/ipcdctl/ipcdctl
	$(AM_V_at)top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		bash $(top_srcdir)/tests/soak.sh $(SOAK_SECONDS)
.PHONY: soak
