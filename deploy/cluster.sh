#!/usr/bin/env bash
# Redis, three babelgate instances and HAProxy in front, as plain processes on one machine.
# docs/deploy.md explains the topology and the settings; deploy/compose.yaml is the same in containers.
#
#   deploy/cluster.sh [CONFIG]        CONFIG defaults to deploy/babelgate.yaml
#
# Environment (defaults in brackets):
#   BABELGATE_LISTEN [127.0.0.1:8318]  where clients connect (HAProxy)
#   BABELGATE_STATS  [127.0.0.1:8404]  HAProxy's stats page
#   BASE_PORT        [8321]            the instances listen on BASE_PORT, +1, +2
#   REDIS_PORT       [6379]            a redis-server started here (its data in STATE_DIR)
#   STATE_DIR        [./cluster-state] Redis's append-only file and each process's log
#
# Ctrl-C or SIGTERM stops HAProxy and drains the instances (each finishes its streams), then Redis.
# A rolling restart of one instance: kill -TERM its PID (printed below), wait for it to exit, start it
# again with the same command; HAProxy sends traffic elsewhere meanwhile.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
config=${1:-$here/babelgate.yaml}
state=${STATE_DIR:-$PWD/cluster-state}
base=${BASE_PORT:-8321}
redis_port=${REDIS_PORT:-6379}
export BABELGATE_LISTEN=${BABELGATE_LISTEN:-127.0.0.1:8318}
export BABELGATE_STATS=${BABELGATE_STATS:-127.0.0.1:8404}
export BABELGATE_REDIS_URL=redis://127.0.0.1:$redis_port/0
mkdir -p "$state"

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state" --appendonly yes --appendfsync everysec \
    --save "" --daemonize no >>"$state/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do  # until Redis answers (10 s at most)
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done

instance_pids=()
for i in 1 2 3; do
    port=$((base + i - 1))
    export "BABELGATE_$i=127.0.0.1:$port"
    babelgate serve --config "$config" --port "$port" >>"$state/b$i.log" 2>&1 &
    instance_pids+=($!)
    echo "instance b$i: http://127.0.0.1:$port (pid $!)"
done
haproxy -db -f "$here/haproxy.cfg" >>"$state/haproxy.log" 2>&1 &
haproxy_pid=$!
echo "clients: http://$BABELGATE_LISTEN   stats: http://$BABELGATE_STATS/   logs: $state"

stop() {
    trap - EXIT INT TERM
    kill -TERM "$haproxy_pid" "${instance_pids[@]}" 2>/dev/null || true
    wait "$haproxy_pid" "${instance_pids[@]}" 2>/dev/null || true  # the instances drain, then exit
    kill -TERM "$redis_pid" 2>/dev/null || true                    # last: the instances write to it as they stop
    wait "$redis_pid" 2>/dev/null || true
}
trap stop EXIT INT TERM
wait -n "$redis_pid" "$haproxy_pid"  # Redis or HAProxy gone: stop the rest
