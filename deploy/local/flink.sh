#!/usr/bin/env bash
# Runs a local Flink 2.2 session cluster on 127.0.0.1 -- one JobManager (or, with ZooKeeper high
# availability, a leader and standbys) and N TaskManagers, each a background JVM -- from
# Maven-resolved jars: no Flink distribution download (flink-dist is not on Maven Central). Jobs
# are submitted over REST, e.g. bin/lseq run --jobmanager 127.0.0.1:8081.
#
#   deploy/local/flink.sh start [--taskmanagers N] [--jobmanagers M]
#                                                    M JobManagers (default 1; more than 1 needs
#                                                    FLINK_HA_ZOOKEEPER) + N TaskManagers (default
#                                                    1); waits until /overview shows N registered
#   deploy/local/flink.sh stop [--clean]             TERM every process, KILL after 20 s; --clean
#                                                    also deletes the run dir's logs, checkpoints, ...
#   deploy/local/flink.sh status                     "running ..." (exit 0) or "stopped" (exit 3)
#   deploy/local/flink.sh start-taskmanager          adds one TaskManager, waits until registered
#   deploy/local/flink.sh stop-taskmanager [ID] [--kill]
#                                                    stops TaskManager ID (default: the highest
#                                                    running); --kill sends SIGKILL (a crash)
#   deploy/local/flink.sh start-jobmanager           adds a JobManager (a standby, with HA); waits
#                                                    until its REST endpoint answers
#   deploy/local/flink.sh stop-jobmanager [ID] [--kill]
#                                                    stops JobManager ID (default: the leader);
#                                                    --kill sends SIGKILL (a crash)
#   deploy/local/flink.sh leader                     prints the leading JobManager's "ID PID REST_PORT"
#
# Environment (read by `start`; the other commands use what `start` wrote to the run dir):
#   FLINK_REST_PORT        REST API and web UI                    (default 8081); JobManager ID
#                          (2, 3, ... with HA) listens on FLINK_REST_PORT + ID - 1
#   FLINK_RPC_PORT         JobManager RPC                         (default 6123)
#   FLINK_RUN_DIR          config, logs, pids, checkpoints, tmp   (default deploy/local/.run/flink)
#   FLINK_CHECKPOINT_DIR   execution.checkpointing.dir            (default file://<run dir>/checkpoints)
#   FLINK_TM_MEMORY        taskmanager.memory.process.size        (default in conf/config.yaml: 1024m)
#   FLINK_JM_MEMORY        jobmanager.memory.process.size         (default in conf/config.yaml: 768m)
#   FLINK_JAVA_OPTS        extra JVM flags for every process (word-split)
#   FLINK_START_TIMEOUT    seconds start waits for the cluster    (default 90)
#   FLINK_PROMETHEUS_PORTS metrics.reporter.prom.port: each process serves /metrics on the first
#                          free port of this range                (default in conf/config.yaml:
#                          9249-9259; each process logs "Started PrometheusReporter HTTP
#                          server on port P")
#   FLINK_HA_ZOOKEEPER     ZooKeeper quorum, e.g. 127.0.0.1:2181 (deploy/local/zookeeper.sh):
#                          turns on JobManager high availability (high-availability.type:
#                          zookeeper, storage in <run dir>/ha)    (default: none, no HA)
#   FLINK_HA_CLUSTER_ID    high-availability.cluster-id           (default lseq-<run dir name>)
#   FLINK_PROPERTIES       more configuration, one "key: value" per line, set last (as the official
#                          Flink image's variable), e.g. $'execution.checkpointing.incremental: true'
# Every other port (TaskManager RPC and data, blob server, JobManager RPC with HA) is picked free
# by Flink.
#
# See deploy/local/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/flink/pom.xml"
CP_CACHE="$HERE/flink/target/classpath"
CONF_SRC="$HERE/conf"

HOST=127.0.0.1
RUN_DIR="${FLINK_RUN_DIR:-$HERE/.run/flink}"
[[ "$RUN_DIR" == /* ]] || RUN_DIR="$PWD/$RUN_DIR"
CONF_DIR="$RUN_DIR/conf"
LOG_DIR="$RUN_DIR/log"
START_TIMEOUT="${FLINK_START_TIMEOUT:-90}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

JM_CLASS=org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint
TM_CLASS=org.apache.flink.runtime.taskexecutor.TaskManagerRunner
JM_PID_FILE="$RUN_DIR/jobmanager.pid" # JobManager 1; others: jobmanager-<id>.pid

NAME=flink.sh
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# ---------------------------------------------------------------------------------------------
# Processes

# The pid in a pid file, if that process is alive and is this run dir's JobManager/TaskManager
# (started with config dir $3, default the run dir's conf/).
running_pid() { pid_of "$1" "$2 --configDir ${3:-$CONF_DIR} "; }

tm_pid_file() { echo "$RUN_DIR/taskmanager-$1.pid"; }

# JobManager 1 keeps the names of a cluster without HA (jobmanager.pid, log/jobmanager.log);
# JobManager <id> >= 2 is jobmanager-<id>.
jm_name() { if [[ "$1" == 1 ]]; then echo jobmanager; else echo "jobmanager-$1"; fi; }
jm_pid_file() { echo "$RUN_DIR/$(jm_name "$1").pid"; }
# JobManager <id> >= 2 reads a copy of conf/ with its own rest.port (a -D rest.port on the
# entrypoint's command line does not reach its REST endpoint).
jm_conf_dir() { if [[ "$1" == 1 ]]; then echo "$CONF_DIR"; else echo "$RUN_DIR/conf-$(jm_name "$1")"; fi; }

# Ids of the JobManagers with a pid file, ascending.
jm_ids() {
  local f
  [[ -e "$JM_PID_FILE" ]] && echo 1
  for f in "$RUN_DIR"/jobmanager-*.pid; do
    [[ -e "$f" ]] || continue
    f="${f##*/jobmanager-}"
    echo "${f%.pid}"
  done | sort -n
}

# "ID PID" of each running JobManager; removes the pid files of dead ones.
running_jms() {
  local id pid
  for id in $(jm_ids); do
    if pid="$(running_pid "$(jm_pid_file "$id")" "$JM_CLASS" "$(jm_conf_dir "$id")")"; then
      echo "$id $pid"
    else
      rm -f "$(jm_pid_file "$id")"
    fi
  done
}

# The REST port of JobManager <id>: rest.port + id - 1.
jm_rest_port() { echo $(($(rest_port) + $1 - 1)); }

# Ids (numbers) of the TaskManagers with a pid file, ascending.
tm_ids() {
  local f
  for f in "$RUN_DIR"/taskmanager-*.pid; do
    [[ -e "$f" ]] || continue
    f="${f##*/taskmanager-}"
    echo "${f%.pid}"
  done | sort -n
}

# "ID PID" of each running TaskManager; removes the pid files of dead ones.
running_tms() {
  local id pid
  for id in $(tm_ids); do
    if pid="$(running_pid "$(tm_pid_file "$id")" "$TM_CLASS")"; then
      echo "$id $pid"
    else
      rm -f "$(tm_pid_file "$id")"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# Classpath and configuration

# Sets a flattened top-level key of the run dir's config.yaml (replaces its line, or appends).
set_key() {
  local key="$1" value="$2" file="$CONF_DIR/config.yaml"
  awk -v k="$key" -v v="$value" '
    index($0, k ":") == 1 { print k ": " v; done = 1; next }
    { print }
    END { if (!done) print k ": " v }' "$file" >"$file.tmp"
  mv -f "$file.tmp" "$file"
}

# A flattened top-level key's value in the run dir's config.yaml (without a trailing comment).
get_key() {
  local key="$1" file="$CONF_DIR/config.yaml"
  [[ -f "$file" ]] || return 1
  awk -v k="$key" 'index($0, k ":") == 1 {
      v = substr($0, length(k) + 2); sub(/[ \t]+#.*$/, "", v); gsub(/^[ \t]+|[ \t]+$/, "", v); print v }' \
    "$file" | tail -n 1
}

write_config() {
  mkdir -p "$CONF_DIR" "$LOG_DIR" "$RUN_DIR/tmp" "$RUN_DIR/web/upload" "$RUN_DIR/checkpoints" \
    "$RUN_DIR/savepoints" "$RUN_DIR/plugins"
  {
    echo "# Generated by deploy/local/flink.sh from deploy/local/conf/config.yaml on every start;"
    echo "# edits are lost."
    cat "$CONF_SRC/config.yaml"
  } >"$CONF_DIR/config.yaml"
  cp -f "$CONF_SRC/log4j.properties" "$CONF_SRC/log4j-console.properties" "$CONF_DIR/"
  set_key jobmanager.rpc.port "${FLINK_RPC_PORT:-6123}"
  set_key rest.port "${FLINK_REST_PORT:-8081}"
  set_key execution.checkpointing.dir "${FLINK_CHECKPOINT_DIR:-file://$RUN_DIR/checkpoints}"
  set_key execution.checkpointing.savepoint-dir "file://$RUN_DIR/savepoints"
  set_key io.tmp.dirs "$RUN_DIR/tmp"
  set_key web.tmpdir "$RUN_DIR/web"
  set_key web.upload.dir "$RUN_DIR/web/upload"
  [[ -z "${FLINK_TM_MEMORY:-}" ]] || set_key taskmanager.memory.process.size "$FLINK_TM_MEMORY"
  [[ -z "${FLINK_JM_MEMORY:-}" ]] || set_key jobmanager.memory.process.size "$FLINK_JM_MEMORY"
  # Quoted: the reporter reads its port as a string, and YAML would make a lone number an
  # integer, which it ignores (it then takes 9249).
  [[ -z "${FLINK_PROMETHEUS_PORTS:-}" ]] || set_key metrics.reporter.prom.port "\"$FLINK_PROMETHEUS_PORTS\""
  if [[ -n "${FLINK_HA_ZOOKEEPER:-}" ]]; then
    mkdir -p "$RUN_DIR/ha"
    set_key high-availability.type zookeeper
    set_key high-availability.zookeeper.quorum "$FLINK_HA_ZOOKEEPER"
    set_key high-availability.storageDir "file://$RUN_DIR/ha"
    set_key high-availability.cluster-id "${FLINK_HA_CLUSTER_ID:-lseq-$(basename "$RUN_DIR")}"
  fi
  local line
  while IFS= read -r line; do
    [[ "$line" =~ ^[[:space:]]*([A-Za-z0-9._-]+)[[:space:]]*:[[:space:]]*(.*)$ ]] || continue
    set_key "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  done <<<"${FLINK_PROPERTIES:-}"
  return 0
}

ha_enabled() { [[ "$(get_key high-availability.type || true)" == zookeeper ]]; }

rest_port() { get_key rest.port || echo "${FLINK_REST_PORT:-8081}"; }

# GET http://127.0.0.1:<rest port><path>, body on stdout; fails if it does not answer 2xx. With
# several JobManagers (HA), from the first running one that answers (any of them serves the
# leader's answers).
rest_get() {
  local id pid
  while read -r id pid; do
    [[ -n "$id" ]] || continue
    curl -sf --max-time 3 "http://$HOST:$(jm_rest_port "$id")$1" && return 0
  done < <(running_jms)
  curl -sf --max-time 3 "http://$HOST:$(rest_port)$1"
}

# Number of TaskManagers registered at the JobManager (fails if the REST endpoint is not up).
registered_tms() {
  local body
  body="$(rest_get /overview)" || return 1
  grep -o '"taskmanagers":[0-9]*' <<<"$body" | cut -d: -f2
}

# Runs BashJavaUtils (GET_JM_RESOURCE_PARAMS or GET_TM_RESOURCE_PARAMS) on the run dir's config,
# as flink-dist's bash-java-utils.sh does; sets JVM_PARAMS (line 1 of the result: -Xmx, -Xms,
# -XX:Max...Size) and DYNAMIC_PARAMS (line 2: "-D key=value ..." for the entrypoint).
resource_params() {
  local cmd="$1" cp="$2" name="$3" output results prefix="BASH_JAVA_UTILS_EXEC_RESULT:"
  output="$("$JAVA" -Dlog4j.configurationFile="file:$CONF_DIR/log4j-console.properties" -cp "$cp" \
    org.apache.flink.runtime.util.bash.BashJavaUtils "$cmd" --configDir "$CONF_DIR" 2>&1)" || {
    printf '%s\n' "$output" | tail -n 30 >&2
    die "BashJavaUtils $cmd failed"
  }
  printf '%s\n' "$output" | grep -v "$prefix" >"$LOG_DIR/bash-java-utils-$name.log" || true
  results="$(printf '%s\n' "$output" | grep "$prefix" | sed "s/^$prefix//")" || true
  [[ "$(printf '%s\n' "$results" | grep -c .)" == 2 ]] || {
    printf '%s\n' "$output" | tail -n 30 >&2
    die "BashJavaUtils $cmd: expected 2 result lines"
  }
  # The first and the last line, without `| head`: under pipefail, head leaving before printf has
  # written a long line kills printf with SIGPIPE, and set -e ended the script with status 141.
  JVM_PARAMS="${results%%$'\n'*}"
  DYNAMIC_PARAMS="${results##*$'\n'}"
}

# The env.java.opts.all of the config (flink-dist's --add-opens list for Java 17).
java_opts_all() { get_key env.java.opts.all || true; }

# Keeps one previous log of a process: <name>.log/.out -> <name>.log.prev/.out.prev.
rotate_logs() {
  local name="$1" f
  for f in "$LOG_DIR/$name.log" "$LOG_DIR/$name.out"; do
    [[ -e "$f" ]] && mv -f "$f" "$f.prev"
  done
  return 0
}

# Launches a JVM in the background (stdin/stdout/stderr detached, so that a caller reading this
# script's output is not held open by it); echoes its pid. $6: its config dir (default conf/).
launch() {
  local name="$1" class="$2" jvm_params="$3" dynamic="$4" cp="$5" conf_dir="${6:-$CONF_DIR}"
  rotate_logs "$name"
  # In the run dir, so that relative paths (e.g. the "plugins" dir Flink looks for) land there.
  cd "$RUN_DIR"
  # shellcheck disable=SC2086  # the flag lists are word-split on purpose
  FLINK_CONF_DIR="$CONF_DIR" FLINK_PLUGINS_DIR="$RUN_DIR/plugins" nohup "$JAVA" $jvm_params -XX:+UseG1GC $(java_opts_all) ${FLINK_JAVA_OPTS:-} \
    -Dlog.file="$LOG_DIR/$name.log" \
    -Dlog4j.configuration="file:$CONF_DIR/log4j.properties" \
    -Dlog4j.configurationFile="file:$CONF_DIR/log4j.properties" \
    -classpath "$cp" "$class" --configDir "$conf_dir" $dynamic \
    >"$LOG_DIR/$name.out" 2>&1 </dev/null &
  echo $!
}

# Smallest TaskManager id whose pid file names no live process. (Only kill -0, not the command
# line check of running_pid: a TaskManager launched a moment ago may not have exec'd java yet.)
next_tm_id() {
  local id=1 pid
  while :; do
    pid="$(cat "$(tm_pid_file "$id")" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || break
    id=$((id + 1))
  done
  echo "$id"
}

# Smallest JobManager id without a live process.
next_jm_id() {
  local id=1 pid
  while :; do
    pid="$(cat "$(jm_pid_file "$id")" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || break
    id=$((id + 1))
  done
  echo "$id"
}

# Starts one JobManager with the given memory parameters; echoes its id. JobManager 1 takes the
# config's rest.port, JobManager <id> rest.port + id - 1 (passed as a dynamic property).
launch_jm() {
  local cp="$1" jvm_params="$2" dynamic="$3" id pid port conf
  id="$(next_jm_id)"
  conf="$(jm_conf_dir "$id")"
  if [[ "$id" != 1 ]]; then
    port="$(jm_rest_port "$id")"
    rm -rf "$conf"
    cp -r "$CONF_DIR" "$conf"
    CONF_DIR="$conf" set_key rest.port "$port"
  fi
  pid="$(launch "$(jm_name "$id")" "$JM_CLASS" "$jvm_params" "--executionMode cluster $dynamic" "$cp" "$conf")"
  echo "$pid" >"$(jm_pid_file "$id")"
  echo "$id"
}

# Starts one TaskManager with the given memory parameters; echoes its id.
launch_tm() {
  local cp="$1" jvm_params="$2" dynamic="$3" id pid
  id="$(next_tm_id)"
  pid="$(launch "taskmanager-$id" "$TM_CLASS" "$jvm_params" "$dynamic" "$cp")"
  echo "$pid" >"$(tm_pid_file "$id")"
  echo "$id"
}

show_failure() {
  local f
  for f in "$LOG_DIR"/*.log "$LOG_DIR"/*.out; do
    [[ -s "$f" ]] || continue
    case "$f" in *.prev | */bash-java-utils-*) continue ;; esac
    echo "--- tail of $f" >&2
    tail -n 20 "$f" >&2 || true
  done
}

elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---------------------------------------------------------------------------------------------
# Commands

start() {
  local n=1 m=1
  while (($#)); do
    case "$1" in
      --taskmanagers) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--taskmanagers needs a number"; n="$2"; shift 2 ;;
      --taskmanagers=*) n="${1#*=}"; [[ "$n" =~ ^[0-9]+$ ]] || die "--taskmanagers needs a number"; shift ;;
      --jobmanagers) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--jobmanagers needs a number"; m="$2"; shift 2 ;;
      --jobmanagers=*) m="${1#*=}"; [[ "$m" =~ ^[1-9][0-9]*$ ]] || die "--jobmanagers needs a number"; shift ;;
      *) die "usage: $0 start [--taskmanagers N] [--jobmanagers M]" ;;
    esac
  done
  ((m == 1)) || [[ -n "${FLINK_HA_ZOOKEEPER:-}" ]] \
    || die "--jobmanagers $m needs high availability: set FLINK_HA_ZOOKEEPER (deploy/local/zookeeper.sh)"

  local pid jms
  jms="$(running_jms)"
  if [[ -n "$jms" ]]; then
    echo "already running (JobManager(s) $(echo $jms), web UI http://$HOST:$(rest_port)/)"
    exit 0
  fi
  command -v "$JAVA" >/dev/null || die "java not found (set JAVA_HOME)"
  command -v curl >/dev/null || die "curl not found"
  # TaskManagers left over from a JobManager that died: stop them first.
  local leftovers
  leftovers="$(running_tms | cut -d' ' -f2)"
  if [[ -n "$leftovers" ]]; then
    log "stopping TaskManagers left without a JobManager: $(echo $leftovers)"
    # shellcheck disable=SC2086
    stop_pids $leftovers
  fi
  rm -f "$RUN_DIR"/jobmanager*.pid "$RUN_DIR"/taskmanager-*.pid

  local rest="${FLINK_REST_PORT:-8081}" rpc="${FLINK_RPC_PORT:-6123}" j
  for ((j = 0; j < m; j++)); do
    port_answers $((rest + j)) && die "port $HOST:$((rest + j)) is already in use by another process"
  done
  port_answers "$rpc" && die "port $HOST:$rpc is already in use by another process"

  local t0 cp jm_pid
  t0="$(date +%s%N)"
  cp="$(classpath)"
  write_config
  printf '%s\n' "$cp" >"$RUN_DIR/classpath"

  resource_params GET_JM_RESOURCE_PARAMS "$cp" jobmanager
  printf '%s\n%s\n' "$JVM_PARAMS" "$DYNAMIC_PARAMS" >"$RUN_DIR/jobmanager.params"
  for ((j = 0; j < m; j++)); do launch_jm "$cp" "$JVM_PARAMS" "$DYNAMIC_PARAMS" >/dev/null; done
  jm_pid="$(cat "$JM_PID_FILE")"

  # While the JobManager starts: the TaskManagers' memory flags.
  resource_params GET_TM_RESOURCE_PARAMS "$cp" taskmanager
  local tm_jvm="$JVM_PARAMS" tm_dynamic="$DYNAMIC_PARAMS"

  # The TaskManagers start with the JobManager (JVM start-up dominates on a small machine);
  # one that reaches the ResourceManager before it is up retries after
  # cluster.registration.error-delay (1 s in conf/config.yaml).
  local i count
  for ((i = 0; i < n; i++)); do launch_tm "$cp" "$tm_jvm" "$tm_dynamic" >/dev/null; done

  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    for i in $(jm_ids); do
      kill -0 "$(cat "$(jm_pid_file "$i")")" 2>/dev/null && continue
      show_failure
      stop_all
      die "JobManager $i exited during startup (logs: $LOG_DIR)"
    done
    for i in $(tm_ids); do
      kill -0 "$(cat "$(tm_pid_file "$i")")" 2>/dev/null && continue
      show_failure
      stop_all
      die "TaskManager $i exited during startup (logs: $LOG_DIR)"
    done
    count="$(registered_tms || echo -1)"
    if [[ "$count" == "$n" ]]; then
      if ((m == 1)); then
        echo "started JobManager (pid $jm_pid) and $n TaskManager(s) in $(elapsed_ms "$t0") ms"
      else
        echo "started $m JobManagers (pids $(running_jms | cut -d' ' -f2 | tr '\n' ' '); REST ports" \
          "$(rest_port)-$(jm_rest_port "$m")) and $n TaskManager(s) in $(elapsed_ms "$t0") ms"
      fi
      echo "web UI / REST: http://$HOST:$(rest_port)/   logs: $LOG_DIR"
      return 0
    fi
    sleep 0.2
  done
  show_failure
  stop_all
  die "the cluster was not ready after ${START_TIMEOUT}s; stopped it (logs: $LOG_DIR)"
}

start_taskmanager() {
  (($# == 0)) || die "usage: $0 start-taskmanager"
  [[ -n "$(running_jms)" ]] || die "the cluster is not running (start it first)"
  local t0 cp id pid
  t0="$(date +%s%N)"
  cp="$(cat "$RUN_DIR/classpath")"
  resource_params GET_TM_RESOURCE_PARAMS "$cp" taskmanager
  id="$(launch_tm "$cp" "$JVM_PARAMS" "$DYNAMIC_PARAMS")"
  pid="$(cat "$(tm_pid_file "$id")")"
  # Registered when its own (fresh) log says so; the count in /overview may still include a
  # TaskManager that was just killed and is not yet declared lost.
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOG_DIR/taskmanager-$id.log" "$LOG_DIR/taskmanager-$id.out" >&2 || true
      rm -f "$(tm_pid_file "$id")"
      die "TaskManager $id exited during startup (log: $LOG_DIR/taskmanager-$id.log)"
    fi
    if grep -q 'Successful registration at resource manager' "$LOG_DIR/taskmanager-$id.log" 2>/dev/null; then
      echo "started TaskManager $id (pid $pid) in $(elapsed_ms "$t0") ms; log $LOG_DIR/taskmanager-$id.log"
      return 0
    fi
    sleep 0.2
  done
  tail -n 40 "$LOG_DIR/taskmanager-$id.log" >&2 || true
  stop_pids "$pid"
  rm -f "$(tm_pid_file "$id")"
  die "TaskManager $id did not register within ${START_TIMEOUT}s; stopped it"
}

stop_taskmanager() {
  local id="" kill_it=0
  while (($#)); do
    case "$1" in
      --kill) kill_it=1 ;;
      [0-9]*) [[ "$1" =~ ^[0-9]+$ ]] || die "not a TaskManager id: $1"; id="$1" ;;
      *) die "usage: $0 stop-taskmanager [ID] [--kill]" ;;
    esac
    shift
  done
  local tms pid
  tms="$(running_tms)"
  if [[ -z "$id" ]]; then
    [[ -n "$tms" ]] || die "no TaskManager is running"
    id="$(tail -n 1 <<<"$tms" | cut -d' ' -f1)"
  fi
  pid="$(awk -v i="$id" '$1 == i { print $2 }' <<<"$tms")"
  [[ -n "$pid" ]] || die "TaskManager $id is not running"
  if ((kill_it)); then
    kill -KILL "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "killed TaskManager $id (pid $pid, SIGKILL)"
  else
    stop_pids "$pid"
    echo "stopped TaskManager $id (pid $pid)"
  fi
  rm -f "$(tm_pid_file "$id")"
}

# Stops every process of this run dir (TaskManagers and JobManager together); echoes nothing.
stop_all() {
  local pids=() pid id
  while read -r id pid; do [[ -n "$pid" ]] && pids+=("$pid"); done < <(running_tms)
  while read -r id pid; do [[ -n "$pid" ]] && pids+=("$pid"); done < <(running_jms)
  ((${#pids[@]} == 0)) || stop_pids "${pids[@]}"
  rm -f "$RUN_DIR"/jobmanager*.pid "$RUN_DIR"/taskmanager-*.pid
  STOPPED=("${pids[@]}")
}

stop() {
  local clean="${1:-}"
  [[ -z "$clean" || "$clean" == "--clean" ]] || die "usage: $0 stop [--clean]"
  STOPPED=()
  stop_all
  if ((${#STOPPED[@]})); then
    echo "stopped (pids ${STOPPED[*]})"
  else
    echo "not running"
  fi
  if [[ "$clean" == "--clean" ]]; then
    # Only what start creates; then the run dir itself if nothing else is in it.
    rm -rf "$CONF_DIR" "$LOG_DIR" "$RUN_DIR/tmp" "$RUN_DIR/web" "$RUN_DIR/checkpoints" \
      "$RUN_DIR/savepoints" "$RUN_DIR/plugins" "$RUN_DIR/ha" "$RUN_DIR"/conf-jobmanager-*
    rm -f "$RUN_DIR/classpath" "$RUN_DIR/jobmanager.params"
    rmdir "$RUN_DIR" 2>/dev/null || true
    echo "deleted $RUN_DIR"
  fi
}

status() {
  local pid tms count jms
  jms="$(running_jms)"
  if [[ -n "$jms" ]]; then
    tms="$(running_tms | awk '{ printf "%s%s (pid %s)", (NR > 1 ? ", " : ""), $1, $2 }')"
    count="$(registered_tms || echo '?')"
    if [[ "$jms" == "1 "* && "$(wc -l <<<"$jms")" == 1 ]]; then
      echo "running (JobManager pid ${jms#1 }, web UI http://$HOST:$(rest_port)/; TaskManagers: ${tms:-none}; registered: $count)"
    else
      jms="$(awk '{ printf "%s%s (pid %s)", (NR > 1 ? ", " : ""), $1, $2 }' <<<"$jms")"
      local lead
      lead="$(leader_id || true)"
      echo "running (JobManagers: $jms; leader: ${lead:-?}${lead:+, web UI http://$HOST:$(jm_rest_port "$lead")/}; TaskManagers: ${tms:-none}; registered: $count)"
    fi
  else
    tms="$(running_tms | awk '{ printf "%s%s (pid %s)", (NR > 1 ? ", " : ""), $1, $2 }')"
    if [[ -n "$tms" ]]; then
      echo "stopped (no JobManager; TaskManagers still running: $tms; run stop)"
    else
      echo "stopped"
    fi
    exit 3
  fi
}

# The id of the JobManager that leads (its Dispatcher was granted leadership last and has not
# lost it), from the running JobManagers' current logs; fails if none does.
leader_id() {
  local id pid line
  while read -r id pid; do
    [[ -n "$id" ]] || continue
    line="$(grep -E 'Dispatcher.*(was granted leadership|was revoked leadership)' "$LOG_DIR/$(jm_name "$id").log" 2>/dev/null \
      | tail -n 1)" || true
    if [[ "$line" == *"granted leadership"* ]]; then
      echo "$id"
      return 0
    fi
  done < <(running_jms)
  return 1
}

leader() {
  (($# == 0)) || die "usage: $0 leader"
  local id pid
  id="$(leader_id)" || die "no JobManager leads (yet)"
  pid="$(cat "$(jm_pid_file "$id")")"
  echo "$id $pid $(jm_rest_port "$id")"
}

start_jobmanager() {
  (($# == 0)) || die "usage: $0 start-jobmanager"
  [[ -f "$RUN_DIR/jobmanager.params" ]] || die "the cluster was never started (start it first)"
  if [[ -n "$(running_jms)" ]] && ! ha_enabled; then
    die "a JobManager runs and high availability is off (start the cluster with FLINK_HA_ZOOKEEPER)"
  fi
  local t0 cp id pid port jvm dynamic
  t0="$(date +%s%N)"
  cp="$(cat "$RUN_DIR/classpath")"
  jvm="$(sed -n 1p "$RUN_DIR/jobmanager.params")"
  dynamic="$(sed -n 2p "$RUN_DIR/jobmanager.params")"
  id="$(launch_jm "$cp" "$jvm" "$dynamic")"
  pid="$(cat "$(jm_pid_file "$id")")"
  port="$(jm_rest_port "$id")"
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOG_DIR/$(jm_name "$id").log" "$LOG_DIR/$(jm_name "$id").out" >&2 || true
      rm -f "$(jm_pid_file "$id")"
      die "JobManager $id exited during startup (log: $LOG_DIR/$(jm_name "$id").log)"
    fi
    if curl -s -o /dev/null --max-time 3 "http://$HOST:$port/config"; then
      echo "started JobManager $id (pid $pid, REST port $port) in $(elapsed_ms "$t0") ms; log $LOG_DIR/$(jm_name "$id").log"
      return 0
    fi
    sleep 0.2
  done
  tail -n 40 "$LOG_DIR/$(jm_name "$id").log" >&2 || true
  stop_pids "$pid"
  rm -f "$(jm_pid_file "$id")"
  die "JobManager $id did not answer on port $port within ${START_TIMEOUT}s; stopped it"
}

stop_jobmanager() {
  local id="" kill_it=0
  while (($#)); do
    case "$1" in
      --kill) kill_it=1 ;;
      [0-9]*) [[ "$1" =~ ^[0-9]+$ ]] || die "not a JobManager id: $1"; id="$1" ;;
      *) die "usage: $0 stop-jobmanager [ID] [--kill]" ;;
    esac
    shift
  done
  local jms pid
  jms="$(running_jms)"
  [[ -n "$jms" ]] || die "no JobManager is running"
  if [[ -z "$id" ]]; then
    id="$(leader_id)" || die "no JobManager leads (yet); name one: $(echo $jms)"
  fi
  pid="$(awk -v i="$id" '$1 == i { print $2 }' <<<"$jms")"
  [[ -n "$pid" ]] || die "JobManager $id is not running"
  if ((kill_it)); then
    kill -KILL "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "killed JobManager $id (pid $pid, SIGKILL)"
  else
    stop_pids "$pid"
    echo "stopped JobManager $id (pid $pid)"
  fi
  rm -f "$(jm_pid_file "$id")"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  start-jobmanager) shift; start_jobmanager "$@" ;;
  stop-jobmanager) shift; stop_jobmanager "$@" ;;
  leader) shift; leader "$@" ;;
  stop) shift; stop "$@" ;;
  status) status ;;
  start-taskmanager) shift; start_taskmanager "$@" ;;
  stop-taskmanager) shift; stop_taskmanager "$@" ;;
  *)
    echo "usage: $0 start [--taskmanagers N] [--jobmanagers M] | stop [--clean] | status | start-taskmanager |" \
      "stop-taskmanager [ID] [--kill] | start-jobmanager | stop-jobmanager [ID] [--kill] | leader" >&2
    exit 2
    ;;
esac
