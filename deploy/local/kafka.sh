#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker+controller, 127.0.0.1 only)
# for development and tests. The broker's jars come from deploy/local/pom.xml (copied by Maven
# into deploy/local/.kafka/lib) and run on the machine's Java; no Kafka download, no Docker.
#
#   deploy/local/kafka.sh start     start (idempotent); prints the bootstrap address, e.g. 127.0.0.1:19092
#   deploy/local/kafka.sh stop      stop (SIGTERM, bounded wait, then SIGKILL); idempotent
#   deploy/local/kafka.sh status    print "running <address> pid <pid>" (exit 0), else "stopped" or
#                                   "starting <address> pid <pid>" (not listening yet) (exit 1)
#   deploy/local/kafka.sh restart   stop, then start; topics and offsets are kept
#   deploy/local/kafka.sh reset     stop and delete the broker's state (not the jars)
#
# Only the bootstrap address (start/restart) and the status line go to stdout; progress to stderr.
#
# Environment:
#   NEWSWIRE_KAFKA_HOME           data directory (config, pid, log, topic data); default deploy/local/.kafka
#   NEWSWIRE_KAFKA_PORT           client port (default 19092); the controller listens on port+1
#   NEWSWIRE_KAFKA_LIB            jar directory; default deploy/local/.kafka/lib (shared by all homes)
#   NEWSWIRE_KAFKA_HEAP_OPTS      JVM heap flags; default "-Xms256m -Xmx512m"
#   NEWSWIRE_KAFKA_START_TIMEOUT  seconds to wait for the broker to come up (default 60)
#   NEWSWIRE_KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
#   JAVA_HOME                     Java to use (default: java on PATH)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${NEWSWIRE_KAFKA_HOME:-$here/.kafka}
lib=${NEWSWIRE_KAFKA_LIB:-$here/.kafka/lib}
port=${NEWSWIRE_KAFKA_PORT:-19092}
host=127.0.0.1
heap_opts=${NEWSWIRE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
start_timeout=${NEWSWIRE_KAFKA_START_TIMEOUT:-60}
stop_timeout=${NEWSWIRE_KAFKA_STOP_TIMEOUT:-30}

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

if ! [[ "$port" =~ ^[1-9][0-9]*$ ]] || (( port < 1 || port > 65534 )); then
  die "NEWSWIRE_KAFKA_PORT must be a port number below 65535, got '$port'"
fi
controller_port=$((port + 1))

# Absolute paths: the broker runs with them baked into its config.
[[ "$home" == /* ]] || home="$PWD/$home"
[[ "$lib" == /* ]] || lib="$PWD/$lib"

props="$home/server.properties"
log4j_conf="$home/log4j2.properties"
pid_file="$home/kafka.pid"
addr_file="$home/kafka.address"
log_file="$home/kafka.log"
data_dir="$home/data"

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java || die "java not found (install a JDK 17+ or set JAVA_HOME)"
  fi
}

# Serialise start/stop/restart/reset (e.g. parallel test workers) on a lock in the data dir.
take_lock() {
  mkdir -p "$home"
  exec 9>"$home/.lock"
  flock -w $((start_timeout + stop_timeout + 120)) 9 || die "timed out waiting for the lock on $home/.lock"
}

port_open() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }

# Prints the broker's pid if the pid file names a live broker started from this data dir.
running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid=$(<"$pid_file")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    # Guard against pid reuse: it must be our broker, started with our config.
    tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "$props" || return 1
  fi
  echo "$pid"
}

running_address() { if [[ -f "$addr_file" ]]; then cat "$addr_file"; else echo "$host:$port"; fi; }

tail_log() {
  if [[ -f "$log_file" ]]; then
    log "last lines of $log_file:"
    tail -n 40 "$log_file" >&2
  fi
}

# Copy the broker's jars with Maven, once per version of pom.xml.
resolve_jars() {
  local stamp tmp
  stamp=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)
  if [[ -f "$lib/.resolved" && "$(<"$lib/.resolved")" == "$stamp" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found; it is needed once to fetch the Kafka jars"
  log "resolving Kafka jars into $lib (Maven)"
  mkdir -p "$(dirname "$lib")"
  tmp=$(mktemp -d "$lib.tmp.XXXXXX")
  chmod 755 "$tmp"
  # (sed: Maven 3.8 prints stray colour resets even in batch mode.)
  if ! mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 \
      | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
    rm -rf "$tmp"
    die "Maven could not resolve the Kafka jars (see above)"
  fi
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no kafka_2.13 jar was copied"; }
  echo "$stamp" >"$tmp/.resolved"
  if [[ -d "$lib" ]]; then
    rm -rf "$lib.old.$$"
    mv -T "$lib" "$lib.old.$$" 2>/dev/null || true
    rm -rf "$lib.old.$$"
  fi
  # mv -T refuses to move into an existing directory (another process won the race): keep theirs.
  mv -T "$tmp" "$lib" 2>/dev/null || rm -rf "$tmp"
}

write_config() {
  mkdir -p "$data_dir"
  cat >"$props" <<EOF
# Written by deploy/local/kafka.sh on every start; edits here are overwritten.
# Single node, KRaft mode: this process is both the broker and the (only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$controller_port
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$controller_port
advertised.listeners=PLAINTEXT://$host:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$data_dir

# One node: every internal topic has exactly one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Topics: auto-created with one partition; tests create multi-partition topics explicitly.
auto.create.topics.enable=true
num.partitions=1
delete.topic.enable=true
# Consumer groups start at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
EOF
  cat >"$log4j_conf" <<'EOF'
# Written by deploy/local/kafka.sh. The broker's stdout/stderr go to kafka.log in the data dir.
status = warn
name = newswire-local-kafka
# Otherwise log4j stops logging at SIGTERM while the broker is still shutting down (lines are
# lost); the console appender flushes every line, so there is nothing to flush at exit.
shutdownHook = disable
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${sys:newswire.kafka.log.level:-INFO}
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.request.additivity = false
logger.request.appenderRef.stdout.ref = STDOUT
EOF
}

format_storage() {
  [[ -f "$data_dir/meta.properties" ]] && return 0
  local cluster_id
  # A Kafka Uuid: 16 random bytes, unpadded URL-safe base64; not starting with '-' (like Uuid.randomUuid).
  cluster_id=-
  while [[ "$cluster_id" == -* ]]; do
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  log "formatting $data_dir (cluster id $cluster_id)"
  "$(java_bin)" -Dlog4j2.configurationFile="$log4j_conf" -Dnewswire.kafka.log.level=WARN -cp "$lib/*" \
    kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$props" --ignore-formatted >&2 \
    || die "formatting the storage directory failed"
}

do_start() {
  local pid
  if pid=$(running_pid); then
    local address
    address=$(running_address)
    [[ "$address" == "$host:$port" ]] \
      || die "already running at $address (pid $pid), not $host:$port; stop it first"
    if port_open "$port"; then
      log "already running (pid $pid)"
      echo "$address"
      return 0
    fi
    # Alive but not listening yet (still starting), or wedged: wait for it like a fresh start.
    log "broker (pid $pid) is up but not listening yet; waiting"
  else
    rm -f "$pid_file" "$addr_file"
    if port_open "$port"; then
      die "port $port is already in use by another process (not the broker in $home)"
    fi
    if port_open "$controller_port"; then
      die "controller port $controller_port is already in use by another process"
    fi
    resolve_jars
    write_config
    format_storage
    [[ -f "$log_file" ]] && mv -f "$log_file" "$log_file.1"
    log "starting Kafka on $host:$port (controller $host:$controller_port, data $home)"
    local java
    java=$(java_bin)
    # setsid: the broker survives Ctrl-C / the end of the calling session. bash -c writes the pid
    # of the process that then execs java, so the pid file names the JVM itself. 9>&-: the broker
    # must not inherit (and so hold forever) the lock taken by take_lock.
    # shellcheck disable=SC2086,SC2016  # heap_opts is a list of flags; $$ etc. are for bash -c
    nohup setsid bash -c 'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"' "$pid_file" \
      "$java" $heap_opts -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$log4j_conf" \
      -cp "$lib/*" kafka.Kafka "$props" \
      </dev/null >>"$log_file" 2>&1 9>&- &
    echo "$host:$port" >"$addr_file"
  fi

  local deadline=$((SECONDS + start_timeout))
  while ! pid=$(running_pid); do
    # The pid file is written by the launcher a moment after it forks.
    if (( SECONDS >= deadline )) || { [[ -f "$pid_file" ]] && ! running_pid >/dev/null; }; then
      tail_log
      rm -f "$pid_file" "$addr_file"
      die "the broker exited during start-up"
    fi
    sleep 0.1
  done
  # Ready = listening, and the server finished starting up (the broker logs this last).
  until port_open "$port" && grep -q 'Kafka Server started' "$log_file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log
      rm -f "$pid_file" "$addr_file"
      die "the broker exited during start-up"
    fi
    if (( SECONDS >= deadline )); then
      tail_log
      die "the broker did not come up on $host:$port within ${start_timeout}s (pid $pid still running; see $log_file)"
    fi
    sleep 0.2
  done
  log "Kafka is up (pid $pid)"
  echo "$host:$port"
}

do_stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file" "$addr_file"
    log "not running"
    return 0
  fi
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + stop_timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then
      log "still running after ${stop_timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      break
    fi
    sleep 0.2
  done
  rm -f "$pid_file" "$addr_file"
  log "stopped"
}

do_status() {
  local pid
  if pid=$(running_pid); then
    local address
    address=$(running_address)
    if port_open "${address##*:}"; then
      echo "running $address pid $pid"
      return 0
    fi
    echo "starting $address pid $pid"
    return 1
  fi
  echo "stopped"
  return 1
}

do_reset() {
  do_stop
  log "deleting broker state in $home (jars kept)"
  rm -rf "$data_dir" "$props" "$log4j_conf" "$log_file" "$log_file.1" "$pid_file" "$addr_file"
}

case "${1:-}" in
  start) take_lock; do_start ;;
  stop) take_lock; do_stop ;;
  restart) take_lock; do_stop; do_start ;;
  status) do_status ;;
  reset) take_lock; do_reset ;;
  *)
    echo "usage: $0 {start|stop|status|restart|reset}" >&2
    exit 2
    ;;
esac
