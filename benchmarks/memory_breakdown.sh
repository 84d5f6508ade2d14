#!/usr/bin/env bash
# Where a running service's memory goes, sampled every few seconds beside a soak (issue 17):
# RSS and its anonymous part (/proc/PID/smaps_rollup), SQLite's allocator (in use, high-water
# mark), Python's allocated blocks, the SQLite files it holds open, and glibc malloc's arenas
# (what they took from the system, and what is free inside them). The allocator figures are
# read by attaching gdb for a moment (the process pauses for well under a second).
#
#   benchmarks/memory_breakdown.sh DATA_DIR [SERVICE] [SECONDS]
#
# DATA_DIR: the stack's data directory (its stack.json names the pids; a soak prints it with
# --keep-data); SERVICE: a name in stack.json (default control); SECONDS: between samples
# (default 300). One line a sample on standard output; stop it with Ctrl-C. Needs gdb.
set -uo pipefail
data=$1; service=${2:-control}; every=${3:-300}
info=$(mktemp); trap 'rm -f "$info"' EXIT
while true; do
  pid=$(python3 -c "import json,sys; d=json.load(open('$data/stack.json')); \
print([s['pid'] for s in d['services'] if s['name']=='$service'][0])" 2>/dev/null)
  if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
    rss=$(awk '/^Rss/{print $2}' "/proc/$pid/smaps_rollup")
    anon=$(awk '/^Anonymous/{print $2}' "/proc/$pid/smaps_rollup")
    files=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c '\.sqlite3')
    values=$(timeout 60 gdb -p "$pid" -batch \
      -ex 'call (long long)sqlite3_memory_used()' \
      -ex 'call (long long)sqlite3_memory_highwater(0)' \
      -ex 'call (long)_Py_GetAllocatedBlocks()' \
      -ex "set \$f = (void*)fopen(\"$info\", \"w\")" \
      -ex 'call (int)malloc_info(0, $f)' -ex 'call (int)fclose($f)' 2>/dev/null \
      | grep '^\$' | head -3 | awk '{print $3}' | tr '\n' ' ')
    arenas=$(python3 - "$info" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
whole = text[text.rindex("</heap>"):]  # the totals after the last arena
system = int(re.search(r'<system type="current" size="(\d+)"', whole).group(1))
free = int(re.search(r'<total type="rest" count="\d+" size="(\d+)"', whole).group(1))
print(f"malloc_system_mib {system / 2**20:.1f} malloc_free_mib {free / 2**20:.1f}")
PY
)
    read -r used high blocks <<<"$values"
    echo "$(date -u +%H:%M:%S) $service pid $pid rss_mib $((rss / 1024)) anon_mib $((anon / 1024))" \
      "sqlite_files $files sqlite_used_kib $(( ${used:-0} / 1024 ))" \
      "sqlite_highwater_kib $(( ${high:-0} / 1024 )) python_blocks ${blocks:-?} $arenas"
  fi
  sleep "$every"
done
