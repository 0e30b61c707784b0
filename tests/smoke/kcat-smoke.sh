#!/usr/bin/env bash
# Smoke test of the local-cluster command with kcat (librdkafka's command-line client):
# metadata lists every broker, and 1,000 records produced with lz4 are read back.
# Usage: kcat-smoke.sh <path to KafkaClient.LocalCluster.dll>
set -euo pipefail
dll=${1:?path to KafkaClient.LocalCluster.dll}
command -v kcat >/dev/null || { echo "kcat is not installed"; exit 3; }

coproc CLUSTER { exec dotnet "$dll" --brokers 3 --partitions 3; }
trap 'exec {CLUSTER[1]}>&- 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true' EXIT
read -r -t 60 first <&"${CLUSTER[0]}"
case "$first" in
  BOOTSTRAP=*) bootstrap=${first#BOOTSTRAP=} ;;
  *) echo "first line was not BOOTSTRAP=...: $first"; exit 1 ;;
esac
echo "cluster at $bootstrap"

brokers=$(kcat -b "$bootstrap" -L -m 10 | grep -cE '^\s+broker [0-9]+ at ')
[ "$brokers" -eq 3 ] || { echo "metadata listed $brokers brokers, expected 3"; exit 1; }

seq 1 1000 | kcat -b "$bootstrap" -t smoke-lz4 -P -z lz4 -X topic.request.required.acks=-1
read_back=$(kcat -b "$bootstrap" -t smoke-lz4 -C -o beginning -e -q -m 10 | sort -n)
count=$(printf '%s\n' "$read_back" | grep -c .)
[ "$count" -eq 1000 ] || { echo "read back $count records, expected 1000"; exit 1; }
[ "$read_back" = "$(seq 1 1000)" ] || { echo "records read back differ from those produced"; exit 1; }
echo "kcat smoke test passed: 3 brokers, 1000 lz4 records read back"
