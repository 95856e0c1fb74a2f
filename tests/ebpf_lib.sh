# SPDX-License-Identifier: Apache-2.0
# Helpers for the eBPF integration tests (source after tests/lib.sh): fresh cgroups that are
# removed on exit, running a command inside cgroups, the collector driver
# ($O/tests/tools/ebpf_driver: attach → workload → collect) and reading values from its output.
DRIVER=${DRIVER:-$TOP/$O/tests/tools/ebpf_driver}
[ "$(id -u)" -eq 0 ] || skip "needs root (creates cgroups, loads BPF)"
[ -x "$DRIVER" ] || fail "missing $DRIVER (built by 'make O=$O test' / 'make O=$O $O/tests/tools/ebpf_driver')"

# Created cgroups are listed in a file: mkcg runs inside $(…), a subshell.
_CGS_FILE=$TMP/cgroups-created
: >"$_CGS_FILE"
# Mount point of the v1 hierarchy holding controller $1, or the cgroup2 mount with $1 = "".
cg_mount() {
    if [ -n "$1" ]; then
        findmnt -rn -t cgroup -o TARGET,FS-OPTIONS | awk -v c="$1" '{n=split($2,a,",");
            for(i=1;i<=n;i++) if(a[i]==c){print $1; exit}}'
    else
        findmnt -rn -t cgroup2 -o TARGET | head -n1
    fi
}
# mkcg MOUNT REL: creates MOUNT/REL (REL starts with /), removed at exit; prints the dir.
mkcg() {
    local d="$1$2"
    mkdir -p "$d" || fail "cannot create cgroup $d"
    echo "$d" >>"$_CGS_FILE"
    echo "$d"
}
# cg_kill DIR [SIGNAL]: signals every process in the cgroup (cgroup files have size 0: read them).
cg_kill() {
    local p
    for p in $(cat "$1/cgroup.procs" 2>/dev/null); do kill "-${2:-KILL}" "$p" 2>/dev/null || true; done
}
ebpf_cleanup() {
    local d
    for d in $(tac "$_CGS_FILE" 2>/dev/null); do
        [ -d "$d" ] || continue
        cg_kill "$d"
        for _ in $(seq 50); do [ -z "$(cat "$d/cgroup.procs" 2>/dev/null)" ] && break; sleep 0.1; done
        rmdir "$d" 2>/dev/null || echo "warning: could not remove cgroup $d" >&2
    done
}
trap 'ebpf_cleanup; cleanup' EXIT

# in_cg "DIR [DIR...]" CMD...: runs CMD inside every listed cgroup dir (one per hierarchy).
in_cg() {
    local dirs=$1
    shift
    bash -c 'for d in $0; do echo $$ > "$d/cgroup.procs" || exit 97; done; exec "$@"' "$dirs" "$@"
}

# driver_start ARGS...: starts the driver as a coprocess and waits for "ready".
driver_start() {
    coproc DRV { exec "$DRIVER" "$@" 2>"$TMP/driver.err"; }
    DRV_PID=$DRV_PID
    _PIDS+=("$DRV_PID")
    local line
    read -r -t 60 line <&"${DRV[0]}" || { cat "$TMP/driver.err" >&2; fail "driver did not start"; }
    [ "$line" = ready ] || fail "driver said: $line"
}
# driver_collect FILE: one collection, exposition into FILE.
driver_collect() {
    local out=$1 line
    : >"$out"
    echo go >&"${DRV[1]}"
    while read -r -t 60 line <&"${DRV[0]}"; do
        [ "$line" = "### end" ] && return 0
        echo "$line" >>"$out"
    done
    cat "$TMP/driver.err" >&2
    fail "driver collection timed out"
}
# val FILE SERIES_NAME LABEL_SUBSTRING...: sum of the values of matching series (0 if none).
val() {
    local f=$1 name=$2
    shift 2
    awk -v n="$name" -v pats="$*" '
        BEGIN { np = split(pats, p, " ") }
        $0 ~ /^#/ { next }
        { s = $1; sub(/\{.*/, "", s); if (s != n) next
          for (i = 1; i <= np; i++) if (index($0, p[i]) == 0) next
          sum += $NF; found = 1 }
        END { printf "%.9g\n", found ? sum : 0 }' "$f"
}
# ge A B: A >= B (numbers).
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
