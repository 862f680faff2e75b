#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-metrics.sh - `ipcdctl metrics` against a real ipcd with known
# traffic: the text is parsed by a real OpenMetrics parser (Debian's
# python3-prometheus-client), and the values of a known exchange are
# checked (messages, drops by reason, per client, per uid, per topic, per
# ring, the call latency histogram); `metrics --http` answers GET, HEAD,
# a wrong path, a wrong method and garbage read on stdin as a socket-
# activated service would, and says 503 when ipcd is not running.

. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"

PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
        skip "python3-prometheus-client is not installed"
ipcd_test_clients

# check FILE EXPR...: parse FILE as OpenMetrics and evaluate each Python
# EXPR with v(name, **labels) (a sample's value) and fam (families by name).
check() {
        local file=$1
        shift
        "$PY" - "$file" "$@" <<'PYEOF' || fail "OpenMetrics check failed on $file"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
fam = {f.name: f for f in text_string_to_metric_families(text)}

def v(_name, **labels):
    for f in fam.values():
        for s in f.samples:
            if s.name == _name and all(s.labels.get(k) == str(x) for k, x in labels.items()):
                return s.value
    raise KeyError("%s %s not in the output" % (_name, labels))

for f in fam.values():
    if not f.documentation:
        sys.exit("family %s has no HELP" % f.name)
for e in sys.argv[2:]:
    if not eval(e):
        sys.exit("false: %s" % e)
PYEOF
}

# ------------------------------------------------------------------
# No daemon: an error, and 503 over HTTP.
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' | ctl metrics --http >"$T/http" 2>"$T/err"
head -1 "$T/http" | grep -q '^HTTP/1.1 503 ' || fail "no ipcd: expected 503, got: $(cat "$T/http")"
ctl metrics >"$T/out" 2>"$T/err" && fail "metrics without ipcd succeeded"
ctl metrics --http status 2>/dev/null && fail "metrics with an argument succeeded"
ctl status --http >/dev/null 2>&1 && fail "--http accepted for status"

ipcd_test_config 'backlog_bytes = 4096;'
ipcd_test_config 'rings = ( { name = "default"; size = 1048576; lane_size = 262144; } );'
ipcd_start

# Known traffic: a subscriber that answers calls, 5 publishes on a/b,
# 7 calls (its 7 replies are its sends), one publish nobody hears.
"$CLIENT" sub srv a/b >"$T/srv" 2>&1 &
bg_pids="$bg_pids $!"
wait_for "$T/srv" ready
"$CLIENT" pub a/b 3 5 || fail "publish"
"$CLIENT" call srv 7 || fail "call"
"$CLIENT" pub nobody/here 1 1 || fail "publish to nobody"
ctl metrics >"$T/m" || fail "metrics failed"
tail -1 "$T/m" | grep -qx '# EOF' || fail "no # EOF at the end"
grep -q '^# TYPE ipcd_messages_accepted counter$' "$T/m" || fail "no TYPE line"
# Fixed once the traffic is in: topic counts, the calls' histogram.
check "$T/m" \
        'v("ipcd_clients") == 1' \
        'v("ipcd_topic_messages_published_total", topic="a/b") == 5' \
        'v("ipcd_topic_messages_delivered_total", topic="a/b") == 5' \
        'v("ipcd_topic_subscribers", topic="a/b") == 1' \
        'v("ipcd_client_messages_received_total", name="srv") == 12' \
        'v("ipcd_client_messages_sent_total", name="srv") == 7' \
        'v("ipcd_publishes_total") == 6' \
        'v("ipcd_publishes_unheard_total") == 1' \
        'v("ipcd_registrations_total") == 4' \
        'v("ipcd_messages_dropped_by_reason_total", reason="overflow") == 0' \
        'v("ipcd_call_latency_seconds_count") == 7' \
        'v("ipcd_call_latency_seconds_bucket", le="+Inf") == 7' \
        'v("ipcd_call_latency_seconds_sum") > 0' \
        'fam["ipcd_call_latency_seconds"].type == "histogram"' \
        'v("ipcd_uid_clients", uid='"$(id -u)"') == 1' \
        'v("ipcd_ring_lanes", ring="default") == 4' \
        'v("ipcd_ring_size_bytes", ring="default") >= 1048576' \
        'v("ipcd_ring_lane_size_bytes", ring="default") == 262144' \
        'fam["ipcd_uptime_seconds"].unit == "seconds"' \
        'v("ipcd_build_info") == 1'

# A subscriber that reads nothing (stopped): publishes to it overflow its
# queue and its backlog and are dropped, counted by reason, for it.
"$CLIENT" sub slow c/d >"$T/slow" 2>&1 &
slow=$!
bg_pids="$bg_pids $slow"
wait_for "$T/slow" ready
kill -STOP $slow
"$CLIENT" pub c/d 1 3000 || fail "flood"
ctl metrics >"$T/m2" || fail "metrics failed"
check "$T/m2" \
        'v("ipcd_messages_dropped_by_reason_total", reason="overflow") > 0' \
        'v("ipcd_messages_dropped_by_reason_total", reason="overflow") == v("ipcd_client_messages_dropped_by_reason_total", name="slow", reason="overflow")' \
        'v("ipcd_client_messages_dropped_total", name="slow") == v("ipcd_messages_dropped_total")' \
        'sum(v("ipcd_messages_dropped_by_reason_total", reason=r) for r in ("overflow", "ignored_back_pressure", "ring_not_mapped", "receiver_gone", "memory_limit")) == v("ipcd_messages_dropped_total")' \
        'v("ipcd_client_messages_received_total", name="slow") + v("ipcd_client_messages_dropped_total", name="slow") <= 3000' \
        'v("ipcd_client_backlog_bytes", name="slow") > 0' \
        'v("ipcd_topic_messages_published_total", topic="c/d") == 3000' \
        'v("ipcd_uid_messages_dropped", uid='"$(id -u)"') == v("ipcd_messages_dropped_total")'
kill -CONT $slow

# Every client family has a unit label: "" outside any unit, the unit of
# a client in one (a fake cgroup .../metrics-test.service).
check "$T/m2" 'v("ipcd_client_messages_sent_total", name="srv", unit="") == 7' \
        'all("unit" in s.labels for f in fam.values() if f.name.startswith("ipcd_client_") for s in f.samples)'
if ipcd_fake_unit metrics-test.service; then
        in_unit metrics-test.service "$CLIENT" sub inunit e/f >"$T/inunit" 2>&1 &
        bg_pids="$bg_pids $!"
        wait_for "$T/inunit" ready
        ctl metrics >"$T/m3" || fail "metrics failed"
        check "$T/m3" 'v("ipcd_client_subscriptions", name="inunit", unit="metrics-test.service") == 1' \
                'v("ipcd_client_connected_seconds", name="inunit", unit="metrics-test.service") >= 0'
else
        log "SKIP the unit label of a client in a unit: no writable cgroup2 hierarchy"
fi

# ------------------------------------------------------------------
# --http
req() { printf "$1" | ctl metrics --http >"$T/http" 2>"$T/err"; }
req 'GET /metrics HTTP/1.1\r\nHost: localhost:9464\r\nAccept: application/openmetrics-text\r\n\r\n' ||
        fail "metrics --http failed: $(cat "$T/err")"
head -1 "$T/http" | grep -q $'^HTTP/1.1 200 OK\r$' || fail "no 200: $(head -3 "$T/http")"
grep -qi '^Content-Type: application/openmetrics-text; version=1.0.0' "$T/http" ||
        fail "no OpenMetrics content type"
len=$(sed -n 's/^Content-Length: \([0-9]*\)\r$/\1/p' "$T/http")
sed '1,/^\r$/d' "$T/http" >"$T/body"
[ "$len" = "$(wc -c <"$T/body")" ] || fail "Content-Length $len, body $(wc -c <"$T/body") bytes"
check "$T/body" 'v("ipcd_topic_messages_published_total", topic="a/b") == 5'
req 'GET / HTTP/1.0\n\n' || fail "GET / failed"
head -1 "$T/http" | grep -q '^HTTP/1.1 200 ' || fail "GET /: $(head -1 "$T/http")"
req 'HEAD /metrics HTTP/1.1\r\n\r\n' || fail "HEAD failed"
head -1 "$T/http" | grep -q '^HTTP/1.1 200 ' || fail "HEAD: $(head -1 "$T/http")"
[ -z "$(sed '1,/^\r$/d' "$T/http")" ] || fail "HEAD answered with a body"
req 'GET /other HTTP/1.1\r\n\r\n'
head -1 "$T/http" | grep -q '^HTTP/1.1 404 ' || fail "wrong path: $(head -1 "$T/http")"
req 'POST /metrics HTTP/1.1\r\n\r\n'
head -1 "$T/http" | grep -q '^HTTP/1.1 405 ' || fail "POST: $(head -1 "$T/http")"
req 'garbage\r\n\r\n'
head -1 "$T/http" | grep -q '^HTTP/1.1 400 ' || fail "garbage: $(head -1 "$T/http")"
# A request that never ends its head: refused, not waited on forever.
head -c 20000 /dev/zero | tr '\0' a | ctl metrics --http >"$T/http" 2>/dev/null &&
        fail "an endless request line was answered 200"
head -1 "$T/http" | grep -q '^HTTP/1.1 431 ' || fail "long request: $(head -1 "$T/http")"
# A peer that closes without a request gets nothing, and ipcdctl fails.
ctl metrics --http </dev/null >"$T/http" 2>/dev/null && fail "an empty request succeeded"
[ ! -s "$T/http" ] || fail "an empty request got an answer"

ipcd_check_alive
kill -TERM $bg_pids 2>/dev/null
for p in $bg_pids; do wait "$p" 2>/dev/null; done
bg_pids=""
ipcd_test_finish
