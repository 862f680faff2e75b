# src/ipcd/core: the data plane (routing state, rings, queues, topics,
# policy).  It knows nothing of libsystemd or libconfig: its unit tests
# link it with libshared alone.  src/ipcd/local.mk builds the edges.
IPCD_CORE_SOURCES = \
	src/ipcd/core/answers.c src/ipcd/core/answers.h \
	src/ipcd/core/bulk.c src/ipcd/core/bulk.h \
	src/ipcd/core/calls.c src/ipcd/core/calls.h \
	src/ipcd/core/channel.c src/ipcd/core/channel.h \
	src/ipcd/core/clients.c src/ipcd/core/clients.h \
	src/ipcd/core/datathread.c src/ipcd/core/datathread.h \
	src/ipcd/core/delivery.c src/ipcd/core/delivery.h \
	src/ipcd/core/dispatch.c \
	src/ipcd/core/errors.c src/ipcd/core/errors.h \
	src/ipcd/core/flow.c src/ipcd/core/flow.h \
	src/ipcd/core/held.c src/ipcd/core/held.h \
	src/ipcd/core/message.c src/ipcd/core/message.h \
	src/ipcd/core/monitor.c src/ipcd/core/monitor.h \
	src/ipcd/core/msgq.c src/ipcd/core/msgq.h \
	src/ipcd/core/opcall.h \
	src/ipcd/core/ops.c src/ipcd/core/ops.h \
	src/ipcd/core/pass.c src/ipcd/core/pass.h \
	src/ipcd/core/policy.c src/ipcd/core/policy.h \
	src/ipcd/core/pubsub.c src/ipcd/core/pubsub.h \
	src/ipcd/core/removal.c \
	src/ipcd/core/revoke.c \
	src/ipcd/core/ring.c src/ipcd/core/ring.h \
	src/ipcd/core/router.c src/ipcd/core/router.h \
	src/ipcd/core/send.c src/ipcd/core/send.h \
	src/ipcd/core/snapshot.c src/ipcd/core/snapshot.h src/ipcd/core/snapshot-io.h \
	src/ipcd/core/snapshot-read.c \
	src/ipcd/core/state.h \
	src/ipcd/core/status.c \
	src/ipcd/core/topics.c src/ipcd/core/topics.h \
	src/ipcd/core/units.c src/ipcd/core/units.h \
	src/ipcd/core/wakeup.c src/ipcd/core/wakeup.h \
	src/ipcd/core/whois.c src/ipcd/core/whois.h

check_PROGRAMS += src/ipcd/core/test-router src/ipcd/core/test-ring src/ipcd/core/test-topics \
	src/ipcd/core/test-msgq src/ipcd/core/test-policy src/ipcd/core/test-snapshot
TESTS += src/ipcd/core/test-router src/ipcd/core/test-ring src/ipcd/core/test-topics \
	src/ipcd/core/test-msgq src/ipcd/core/test-policy src/ipcd/core/test-snapshot
src_ipcd_core_test_router_SOURCES = src/ipcd/core/test-router.c $(IPCD_CORE_SOURCES)
src_ipcd_core_test_router_LDADD = src/shared/libshared.la
src_ipcd_core_test_ring_SOURCES = src/ipcd/core/test-ring.c $(IPCD_CORE_SOURCES)
src_ipcd_core_test_ring_LDADD = src/shared/libshared.la
src_ipcd_core_test_topics_SOURCES = src/ipcd/core/test-topics.c $(IPCD_CORE_SOURCES)
src_ipcd_core_test_topics_LDADD = src/shared/libshared.la
src_ipcd_core_test_msgq_SOURCES = src/ipcd/core/test-msgq.c $(IPCD_CORE_SOURCES)
src_ipcd_core_test_msgq_LDADD = src/shared/libshared.la
src_ipcd_core_test_policy_SOURCES = src/ipcd/core/test-policy.c $(IPCD_CORE_SOURCES)
src_ipcd_core_test_policy_LDADD = src/shared/libshared.la
src_ipcd_core_test_snapshot_SOURCES = src/ipcd/core/test-snapshot.c $(IPCD_CORE_SOURCES)
src_ipcd_core_test_snapshot_LDADD = src/shared/libshared.la
# The version 1 and 2 states every later reader must read (snapshot.h).
EXTRA_DIST += tests/reexec-v1.state tests/reexec-v2.state
