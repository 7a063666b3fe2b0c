#!/usr/bin/env bash
# compare.sh: BENCHMARKS.md's workloads (run.sh) on four targets, ROUNDS
# rounds in alternating order: the plain backing directory, a go-fuse
# loopback mount of it, dfs on the directory backend, dfs on a local MinIO.
# Prints every run and the daemons' peak RSS (VmHWM). Needs root, fio,
# fusermount3, and MinIO at $MINIO. Leaves nothing mounted.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${ROUNDS:-3}
work=$(mktemp -d /var/tmp/dfs-bench.XXXXXX)
MINIO=${MINIO:-$HOME/.cache/dfs/bin/minio}
pids=()
cleanup() {
	for m in "$work"/*-mnt; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
wait_mount() { for _ in $(seq 100); do grep -q " $1 " /proc/mounts && return 0; sleep 0.1; done; echo "no mount at $1" >&2; exit 1; }

cd "$repo"
go build -o "$work/dfsd" ./cmd/dfsd
go build -o "$work/loopback" github.com/hanwen/go-fuse/v2/example/loopback
mkdir -p "$work"/{plain,lb-src,lb-mnt,dfs-data,dfs-mnt,s3-data,s3-mnt,minio}

"$work/loopback" "$work/lb-mnt" "$work/lb-src" >"$work/lb.log" 2>&1 & pids+=($!); lbpid=$!
wait_mount "$work/lb-mnt"
"$work/dfsd" --data "$work/dfs-data" --mount "$work/dfs-mnt" >"$work/dfs.log" 2>&1 & pids+=($!); dfspid=$!
wait_mount "$work/dfs-mnt"
export MINIO_ROOT_USER=bench MINIO_ROOT_PASSWORD=bench-secret-key
"$MINIO" server --quiet --address 127.0.0.1:9390 --console-address 127.0.0.1:9391 "$work/minio" >"$work/minio.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/9390) 2>/dev/null && break; sleep 0.1; done
DFS_S3_ACCESS_KEY=bench DFS_S3_SECRET_KEY=bench-secret-key "$work/dfsd" --data "$work/s3-data" --mount "$work/s3-mnt" \
	--backend 's3://127.0.0.1:9390/bench?tls=false&create=true' >"$work/s3.log" 2>&1 & pids+=($!); s3pid=$!
wait_mount "$work/s3-mnt"

export BENCH_TAR=$work/go-src.tar
tar -cf "$BENCH_TAR" -C "$(go env GOROOT)/src" net cmd/go
echo "tarball: $(tar -tf "$BENCH_TAR" | grep -vc '/$') files"
targets=(plain lb-mnt dfs-mnt s3-mnt)
for r in $(seq "$rounds"); do
	order=("${targets[@]}")
	if [ $((r % 2)) = 0 ]; then order=(s3-mnt dfs-mnt lb-mnt plain); fi
	for t in "${order[@]}"; do
		"$repo/testdata/bench/run.sh" "$work/$t" "r$r $t"
	done
done
for p in "loopback $lbpid" "dfs-dir $dfspid" "dfs-minio $s3pid"; do
	set -- $p
	echo "$1 peak RSS: $(awk '/VmHWM/{printf "%.0f MiB", $2/1024}' /proc/$2/status)"
done
