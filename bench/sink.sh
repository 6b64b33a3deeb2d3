#!/bin/bash
# sink.sh start|stop|count|conns|stat|log|logcount|logbody|logtruncate|workercpu
# Own nginx instance (not the system one) under $BENCH_DATA/sink-run (default
# bench/data/sink-run), on 127.0.0.1:$SINK_PORT.  bench/ copy of the reference sink.sh:
# the run folder moved out of the source tree, `log` prints the access log's path.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PORT="${SINK_PORT:-28204}"
DIR="${BENCH_DATA:-$HERE/data}/sink-run"
PIN="${PIN:-1}"
URL="http://127.0.0.1:$PORT"

stub() { curl -s --max-time 5 "$URL/__count"; }

case "${1:-}" in
start)
    mkdir -p "$DIR"/{run,logs,tmp}
    if [ "$PIN" = 1 ]; then aff="worker_cpu_affinity 01;   # sink worker on cpu 0, clients on cpu 1"; else aff="# unpinned"; fi
    sed -e "s|@DIR@|$DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@AFFINITY@|$aff|" \
        "$HERE/sink/nginx.conf.in" > "$DIR/nginx.conf"
    if [ -f "$DIR/run/nginx.pid" ] && kill -0 "$(cat "$DIR/run/nginx.pid")" 2>/dev/null; then
        echo "sink already running (pid $(cat "$DIR/run/nginx.pid"))"; exit 0
    fi
    if ss -ltn "sport = :$PORT" | grep -q LISTEN; then
        echo "port $PORT is taken by something else; set SINK_PORT" >&2; exit 1
    fi
    nginx -p "$DIR" -c "$DIR/nginx.conf"
    for i in $(seq 1 50); do stub >/dev/null 2>&1 && break; sleep 0.1; done
    stub >/dev/null || { echo "sink did not come up" >&2; cat "$DIR/logs/error.log" >&2; exit 1; }
    echo "sink up on $URL (nginx master pid $(cat "$DIR/run/nginx.pid"))"
    ;;
stop)
    if [ -f "$DIR/run/nginx.pid" ]; then
        pid="$(cat "$DIR/run/nginx.pid")"
        kill -QUIT "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
        echo "sink stopped"
    fi
    ;;
count)   # total requests seen by nginx (includes the /__count requests themselves)
    stub | awk 'NR==3{print $3}'
    ;;
conns)   # total accepted TCP connections
    stub | awk 'NR==3{print $1}'
    ;;
stat)    # "<accepted connections> <requests>" in one /__count request
    stub | awk 'NR==3{print $1, $3}'
    ;;
logcount) # POST answered 204 in access log (buffered: waits for the 1 s flush)
    sleep 1.3
    grep -c ' POST 204 ' "$DIR/logs/sink.log" 2>/dev/null || true
    ;;
logbody) # distinct body sizes (content_length) seen in the access log
    sleep 1.3
    awk '{print $5}' "$DIR/logs/sink.log" 2>/dev/null | sort | uniq -c | sort -rn | head -3
    ;;
log)     # the access log file (fields: msec method status request_length content_length idempotency_key)
    echo "$DIR/logs/sink.log"
    ;;
logtruncate)
    sleep 1.3
    : > "$DIR/logs/sink.log"
    ;;
workercpu) # user+sys clock ticks of the nginx worker(s)
    total=0
    for p in $(pgrep -P "$(cat "$DIR/run/nginx.pid")"); do
        t=$(awk '{print $14+$15}' "/proc/$p/stat"); total=$((total+t))
    done
    echo "$total"
    ;;
*) echo "usage: $0 start|stop|count|conns|stat|log|logcount|logbody|logtruncate|workercpu" >&2; exit 2;;
esac
