# Functions shared by deploy/local/kafka.sh, zookeeper.sh and flink.sh (sourced, not run).
# The caller sets NAME (its name in messages), HOST, POM and CP_CACHE.

log() { echo "$NAME: $*" >&2; }
die() { log "$*"; exit 1; }

# Whether something accepts TCP connections on $HOST:$1.
port_answers() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Resolve the classpath of $POM with Maven once; cache it next to the pom (target/ is ignored)
# and refresh it when the pom changes. Offline first, so a warm ~/.m2 needs no network.
classpath() {
  if [[ ! -s "$CP_CACHE" || "$POM" -nt "$CP_CACHE" ]]; then
    log "resolving the classpath of $POM with Maven (once)"
    mkdir -p "$(dirname "$CP_CACHE")"
    local tmp="$CP_CACHE.$$"
    mvn -q -B -o -f "$POM" dependency:build-classpath -Dmdep.outputFile="$tmp" >/dev/null 2>&1 \
      || mvn -q -B -f "$POM" dependency:build-classpath -Dmdep.outputFile="$tmp" >&2 \
      || die "mvn could not resolve $POM"
    mv -f "$tmp" "$CP_CACHE"
  fi
  cat "$CP_CACHE"
}

# The pid in pid file $1, if that process is alive and its command line contains $2 (guards
# against a recycled pid: the marker names our main class and our config).
# (No `| grep -q`: under pipefail, grep leaving early can kill tr with SIGPIPE, status 141.)
pid_of() {
  local pid_file="$1" marker="$2" pid cmdline
  [[ -f "$pid_file" ]] || return 1
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")" || return 1
    [[ "$cmdline" == *"$marker"* ]] || return 1
  fi
  echo "$pid"
}

# Sends TERM to the given pids, waits up to 20 s for all of them, then KILLs what is left.
stop_pids() {
  local pid i alive
  (($# > 0)) || return 0
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do # 20 s
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid still alive after 20 s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 0; i < 25; i++)); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
}
