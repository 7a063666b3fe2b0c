#!/usr/bin/env bash
# run.sh DIR [LABEL]: the BENCHMARKS.md workloads on one mounted directory:
# fio 1 GiB sequential write (bs=1M, end_fsync) and cold read, then 5,000
# files of 4 KiB created, cold-stat'ed and unlinked. Prints one line.
set -euo pipefail
dir=$1; label=${2:-$1}
here=$(cd "$(dirname "$0")" && pwd)
size=${BENCH_SIZE:-1G}
w=$(fio --name=seq --directory="$dir" --rw=write --bs=1M --size="$size" --end_fsync=1 \
	--ioengine=psync --output-format=terse --terse-version=3 | awk -F';' '{print $48/1024}')
sync; echo 3 > /proc/sys/vm/drop_caches
r=$(fio --name=seq --directory="$dir" --rw=read --bs=1M --size="$size" \
	--ioengine=psync --output-format=terse --terse-version=3 | awk -F';' '{print $7/1024}')
rm -f "$dir"/seq.*
small=$(cd "$here/../.." && go run testdata/bench/smallfiles.go -dir "$dir")
printf '%-12s seq write %7.1f MiB/s  seq read %7.1f MiB/s  %s\n' "$label" "$w" "$r" "$small"
