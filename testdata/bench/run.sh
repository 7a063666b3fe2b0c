#!/usr/bin/env bash
# run.sh DIR [LABEL]: the BENCHMARKS.md workloads on one mounted directory:
# fio 1 GiB sequential write (bs=1M, end_fsync) and cold read, then 5,000
# files of 4 KiB created, cold-stat'ed and unlinked, and (with BENCH_TAR set
# to a tarball) tar -xf + sync. Prints one line.
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
tarsec=-
if [ -n "${BENCH_TAR:-}" ]; then
	mkdir "$dir/tarx"
	start=$(date +%s.%N)
	tar -xf "$BENCH_TAR" -C "$dir/tarx" && sync
	tarsec=$(echo "$(date +%s.%N) - $start" | bc)
	rm -rf "$dir/tarx"
fi
printf '%-16s seq write %7.1f MiB/s  seq read %7.1f MiB/s  %s  tar %s s\n' "$label" "$w" "$r" "$small" "$tarsec"
