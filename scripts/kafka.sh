#!/usr/bin/env bash
# kafka.sh - fetch, cache, start and stop a real single-node Apache Kafka
# broker (KRaft combined mode, loopback only) for kamwatch tests and benchmarks.
# Run `scripts/kafka.sh --help` for usage.
set -euo pipefail

PROG=kafka.sh

# ---------------------------------------------------------------- settings --
VERSION=${KAMWATCH_KAFKA_VERSION:-3.9.1}
PORT=${KAMWATCH_KAFKA_PORT:-19092}
CACHE=${KAMWATCH_CACHE:-${HOME:-/tmp}/.cache/kamwatch}
HEAP_OPTS=${KAMWATCH_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}
GC_OPTS=${KAMWATCH_KAFKA_GC_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}
LOG_LEVEL=${KAMWATCH_KAFKA_LOG_LEVEL:-INFO}
START_TIMEOUT=${KAMWATCH_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAMWATCH_KAFKA_STOP_TIMEOUT:-30}
EXTRA_PROPS=${KAMWATCH_KAFKA_EXTRA_PROPS:-}
FRESH=${KAMWATCH_KAFKA_FRESH:-0}
read -r -a MVN <<<"${KAMWATCH_MVN:-mvn}"  # word-split: may carry extra mvn args

# Pinned so resolution is reproducible and does not depend on Maven's default.
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1

say() { echo "$PROG: $*"; }
err() { echo "$PROG: error: $*" >&2; }
die() { err "$*"; exit 1; }

usage() {
  cat <<EOF
Usage: scripts/kafka.sh COMMAND [ARGS]

Runs a throw-away single-node Apache Kafka broker (KRaft combined mode,
broker+controller in one JVM, node.id=1) on 127.0.0.1 for tests/benchmarks.
The broker jars come from Maven Central (org.apache.kafka:kafka_2.13 plus
kafka-tools and a logging backend) and are cached outside the repo.

Commands:
  fetch            Download the broker jars into the cache (no-op if cached).
  start            fetch if needed, format KRaft storage if needed (no
                   meta.properties yet), start the broker in the background
                   and wait until it answers metadata requests (kcat -L).
                   If it is already running, just says so.
  stop             Graceful stop: SIGTERM, wait up to \$KAMWATCH_KAFKA_STOP_TIMEOUT
                   seconds, then SIGKILL. No-op if not running.
  restart          stop + start (data is kept unless KAMWATCH_KAFKA_FRESH=1).
  kill             SIGKILL the broker immediately (crash simulation for fault
                   tests). Data is kept; the next 'start' runs log recovery.
  status           Exit 0 if running and answering; 1 if the process exists
                   but does not answer; 3 if not running.
  bootstrap        Print the bootstrap address, e.g. 127.0.0.1:19092.
  logs             Print the path of the broker log file.
  topic create NAME PARTITIONS [KEY=VALUE...]
                   Create a topic (replication factor 1) with the given number
                   of partitions and optional topic configs; no-op if it
                   already exists (the partition count is NOT changed then).
  topic delete NAME
  topic list
  topic describe [NAME]
  tool CLASS [ARGS...]
                   Run any Kafka CLI class with the cached jars, e.g.
                     tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \\
                       --bootstrap-server \$(scripts/kafka.sh bootstrap) --describe --all-groups
  -h, --help       This text.

Topics: auto.create.topics.enable=true with num.partitions=4, so producing to
an unknown topic (kcat -P -t NAME) creates it with 4 partitions. kcat cannot
create topics with a chosen partition count; use 'topic create NAME N'.
Consumers (kcat -C/-G, librdkafka default) do NOT auto-create topics.

Broker configuration (written to \$STATE/server.properties on every start):
  listeners PLAINTEXT://127.0.0.1:PORT, controller listener 127.0.0.1:PORT+1,
  controller.quorum.voters=1@127.0.0.1:PORT+1, all replication factors /
  min.insync.replicas = 1, group.initial.rebalance.delay.ms=0,
  log.retention = unlimited (time and size), message.max.bytes=8 MiB,
  offsets/transaction-state topics with 8 partitions (faster first group join),
  broker.session.timeout.ms=3000 (a crashed broker can re-register after
  ~3s; with the 9s default, start after kill took ~16s instead of ~6s).
The log goes to \$STATE/kafka.log (the previous run's log is kept as
kafka.log.1); the broker writes nothing to the terminal.

Environment:
  KAMWATCH_KAFKA_VERSION    Kafka version from Maven Central (default 3.9.1;
                            4.x also works, e.g. 4.1.1).
  KAMWATCH_KAFKA_PORT       Client port (default 19092); PORT+1 is the
                            controller port.
  KAMWATCH_KAFKA_DIR        State dir: data/, kafka.log, kafka.pid,
                            server.properties (default /tmp/kamwatch-kafka-PORT).
  KAMWATCH_KAFKA_FRESH=1    On start/restart: wipe the data dir first.
  KAMWATCH_CACHE            Jar cache root (default \$HOME/.cache/kamwatch);
                            jars go to \$KAMWATCH_CACHE/kafka-VERSION/libs.
  KAMWATCH_KAFKA_HEAP_OPTS  Broker heap (default "-Xms256m -Xmx768m").
  KAMWATCH_KAFKA_GC_OPTS    Broker garbage collector (default: G1 with Kafka's
                            settings, "-XX:+UseG1GC -XX:MaxGCPauseMillis=20
                            -XX:InitiatingHeapOccupancyPercent=35
                            -XX:+ExplicitGCInvokesConcurrent").
  KAMWATCH_KAFKA_LOG_LEVEL  Root log level of the broker log (default INFO).
  KAMWATCH_KAFKA_START_TIMEOUT  Seconds to wait for readiness (default 90).
  KAMWATCH_KAFKA_STOP_TIMEOUT   Seconds before SIGKILL on stop (default 30).
  KAMWATCH_KAFKA_EXTRA_PROPS    Extra server properties, whitespace separated
                            KEY=VALUE pairs; they override the defaults
                            (e.g. "log.segment.bytes=1048576").
  KAMWATCH_MVN              Maven command, may include extra args (default mvn;
                            e.g. "mvn -Dmaven.repo.local=/somewhere" or "mvn -o").
                            Maven's own ~/.m2 repository is used as usual.

Requires: java (17+), mvn (only for the first fetch), kcat, flock, setsid.
Several brokers can run side by side with different KAMWATCH_KAFKA_PORT values.
EOF
}

# ----------------------------------------------------------------- derived --
[[ $PORT =~ ^[0-9]+$ ]] && (( PORT >= 1 && PORT <= 65534 )) ||
  die "KAMWATCH_KAFKA_PORT must be a port number below 65535, got '$PORT'"
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([.-][A-Za-z0-9.-]+)?$ ]] ||
  die "KAMWATCH_KAFKA_VERSION looks wrong: '$VERSION'"
CTRL_PORT=$((PORT + 1))
MAJOR=${VERSION%%.*}
BOOTSTRAP=127.0.0.1:$PORT

KDIR=$CACHE/kafka-$VERSION
LIBS=$KDIR/libs
STAMP=$KDIR/.fetched

STATE=${KAMWATCH_KAFKA_DIR:-/tmp/kamwatch-kafka-$PORT}
STATE=${STATE%/}
DATA=$STATE/data
LOG=$STATE/kafka.log
PIDF=$STATE/kafka.pid
PROPS=$STATE/server.properties
LOGCFG=$STATE/log4j-broker.properties
TOOLCFG=$STATE/log4j-tools.properties

# Maven coordinates group:artifact:version fetched with all runtime deps.
if (( MAJOR >= 4 )); then
  # Kafka 4.x logs via log4j2 (log4j-api/core come transitively); slf4j 1.7 binding:
  DEPS=("org.apache.kafka:kafka_2.13:$VERSION" "org.apache.kafka:kafka-tools:$VERSION"
        "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3")
else
  # Kafka 3.x ships slf4j 1.7 + reload4j (log4j 1.2 API):
  DEPS=("org.apache.kafka:kafka_2.13:$VERSION" "org.apache.kafka:kafka-tools:$VERSION"
        "org.slf4j:slf4j-reload4j:1.7.36" "ch.qos.reload4j:reload4j:1.2.25")
fi
FETCH_SPEC="${DEPS[*]}"

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH ($2)"; }

# ------------------------------------------------------------------- fetch --
fetched() { [[ -f $STAMP && "$(cat "$STAMP")" == "$FETCH_SPEC" ]]; }

write_pom() {
  local pom=$1 d g a v
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo '<groupId>kamwatch</groupId><artifactId>kafka-fetch</artifactId><version>1</version><packaging>pom</packaging>'
    echo '<dependencies>'
    for d in "${DEPS[@]}"; do
      IFS=: read -r g a v <<<"$d"
      echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
    done
    echo '</dependencies></project>'
  } >"$pom"
}

do_fetch() {
  if fetched; then
    say "kafka $VERSION cached in $LIBS"
    return 0
  fi
  need "${MVN[0]}" "apt-get install maven"
  mkdir -p "$KDIR"
  (
    flock -w 600 8 || die "timed out waiting for another fetch of kafka $VERSION"
    if fetched; then say "kafka $VERSION cached in $LIBS (fetched concurrently)"; exit 0; fi
    say "fetching kafka $VERSION + runtime deps from Maven Central into $LIBS"
    local t0=$SECONDS work=$KDIR/fetch.tmp
    rm -f "$STAMP"
    rm -rf "$LIBS" "$work"
    mkdir -p "$work"
    write_pom "$work/pom.xml"
    if ! "${MVN[@]}" -q -B -f "$work/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
          -DincludeScope=runtime -DoutputDirectory="$work/libs" >"$KDIR/fetch.log" 2>&1; then
      tail -n 30 "$KDIR/fetch.log" >&2 || true
      die "maven fetch of kafka $VERSION failed (full output: $KDIR/fetch.log)"
    fi
    for j in "kafka_2.13-$VERSION.jar" "kafka-tools-$VERSION.jar" "kafka-clients-$VERSION.jar"; do
      [[ -f $work/libs/$j ]] || die "fetch incomplete: $j missing in $work/libs"
    done
    mv "$work/libs" "$LIBS"
    rm -rf "$work"
    printf '%s\n' "$FETCH_SPEC" >"$STAMP"
    say "fetched $(ls "$LIBS" | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $((SECONDS - t0))s"
  ) 8>"$KDIR/.lock"
}

# ------------------------------------------------------------- java helpers --
jvm_log_opt() { # $1 = log config file
  if (( MAJOR >= 4 )); then echo "-Dlog4j2.configurationFile=file:$1"; else echo "-Dlog4j.configuration=file:$1"; fi
}

write_tool_logcfg() {
  mkdir -p "$STATE"
  if (( MAJOR >= 4 )); then
    cat >"$TOOLCFG" <<EOF
status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
  else
    cat >"$TOOLCFG" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  fi
}

# Run a Kafka CLI class with the cached jars (small, fast-starting JVM).
run_tool() {
  need java "apt-get install openjdk-17-jre-headless"
  do_fetch >/dev/null
  write_tool_logcfg
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    "$(jvm_log_opt "$TOOLCFG")" -cp "$LIBS/*" "$@"
}

write_broker_config() {
  mkdir -p "$STATE" "$DATA"
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh on every start - edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CTRL_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA
metadata.log.dir=$DATA

auto.create.topics.enable=true
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a crash (SIGKILL) the restarted broker cannot re-register until the
# old registration's session expires (DUPLICATE_BROKER_REGISTRATION); the
# 9s default made kill+start take ~16s.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500

log.retention.ms=-1
log.retention.hours=-1
log.retention.bytes=-1
message.max.bytes=8388608
replica.fetch.max.bytes=8388608

# small machine (2 cores)
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
background.threads=4
log.cleaner.threads=1
EOF
  if [[ -n $EXTRA_PROPS ]]; then
    echo "# from KAMWATCH_KAFKA_EXTRA_PROPS" >>"$PROPS"
    local kv
    for kv in $EXTRA_PROPS; do
      [[ $kv == *=* ]] || die "KAMWATCH_KAFKA_EXTRA_PROPS: '$kv' is not KEY=VALUE"
      echo "$kv" >>"$PROPS"
    done
  fi

  if (( MAJOR >= 4 )); then
    cat >"$LOGCFG" <<EOF
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $LOG
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $LOG_LEVEL
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
  else
    cat >"$LOGCFG" <<EOF
log4j.rootLogger=$LOG_LEVEL, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$LOG
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF
  fi
}

# ------------------------------------------------------------ process state --
# True if $1 is a live (non-zombie) kafka.Kafka process using our server.properties.
is_our_broker() {
  local pid=$1 cmd state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *kafka.Kafka* && $cmd == *"$PROPS"* ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z && $state != X ]]
}

# Prints the broker pid, or nothing. Falls back to scanning /proc (exact
# server.properties path) in case the pid file got lost.
broker_pid() {
  local pid="" p
  [[ -f $PIDF ]] && pid=$(cat "$PIDF" 2>/dev/null || true)
  if [[ -n $pid ]] && is_our_broker "$pid"; then echo "$pid"; return 0; fi
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    if is_our_broker "$p"; then echo "$p"; return 0; fi
  done
  return 0
}

# Metadata request answered and our broker (node 1) is listed in it.
answers() {
  timeout 6 kcat -b "$BOOTSTRAP" -L -m 4 2>/dev/null | grep -q "broker 1 at"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_gone() { # pid seconds
  local pid=$1 deadline=$((SECONDS + $2))
  while is_our_broker "$pid"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}

lock_state() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "timed out waiting for the lock on $STATE"
}

fail_start() {
  err "$*"
  if [[ -f $LOG ]]; then
    echo "---- last 40 lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2 || true
    echo "----" >&2
  fi
  exit 1
}

wait_ready() { # pid t0
  local pid=$1 t0=$2 deadline=$(( $2 + START_TIMEOUT ))
  while :; do
    if ! is_our_broker "$pid"; then
      rm -f "$PIDF"
      fail_start "broker (pid $pid) exited during startup"
    fi
    if answers; then
      say "broker up at $BOOTSTRAP (pid $pid, $((SECONDS - t0))s; log: $LOG)"
      return 0
    fi
    if (( SECONDS >= deadline )); then
      fail_start "broker (pid $pid) did not answer metadata requests within ${START_TIMEOUT}s (still running; 'scripts/kafka.sh stop' to stop it)"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- commands --
do_start() {
  need java "apt-get install openjdk-17-jre-headless"
  need kcat "apt-get install kcat"
  lock_state
  local pid t0=$SECONDS
  pid=$(broker_pid)
  if [[ -n $pid ]]; then
    echo "$pid" >"$PIDF"
    if answers; then
      say "already running at $BOOTSTRAP (pid $pid)"
      return 0
    fi
    say "broker process $pid exists but does not answer yet; waiting"
    wait_ready "$pid" "$t0"
    return 0
  fi
  for p in "$PORT" "$CTRL_PORT"; do
    port_in_use "$p" && die "port $p on 127.0.0.1 is already in use by another process (not the broker of $STATE)"
  done

  do_fetch
  if [[ $FRESH == 1 ]]; then
    say "KAMWATCH_KAFKA_FRESH=1: wiping $DATA"
    rm -rf "$DATA"
  fi
  write_broker_config
  write_tool_logcfg

  if [[ ! -f $DATA/meta.properties ]]; then
    local cid
    cid=$(run_tool kafka.tools.StorageTool random-uuid | tail -n 1)
    [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid returned '$cid'"
    say "formatting KRaft storage in $DATA (cluster id $cid)"
    local out
    if ! out=$(run_tool kafka.tools.StorageTool format -t "$cid" -c "$PROPS" 2>&1); then
      echo "$out" >&2
      die "formatting storage failed"
    fi
  fi

  [[ -f $LOG ]] && mv -f "$LOG" "$LOG.1"
  echo "==== $PROG start $(date '+%F %T') kafka $VERSION port $PORT ====" >"$LOG"
  # setsid: own session, so Ctrl-C/SIGHUP of the caller does not reach it.
  # 9>&- : do not leak the state lock into the broker.
  # cd to the state dir so hs_err files etc. land there, not in the caller's cwd.
  (
    cd "$STATE"
    # Do not leak the caller's extra fds (e.g. a test runner's pipes) into the
    # long-lived broker, or the caller may wait for EOF forever.
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    # shellcheck disable=SC2086
    exec setsid java $HEAP_OPTS $GC_OPTS \
      -XX:+ExitOnOutOfMemoryError -XX:ErrorFile="$STATE/hs_err_%p.log" \
      -Djava.awt.headless=true -Dkafka.logs.dir="$STATE" \
      "$(jvm_log_opt "$LOGCFG")" \
      -cp "$LIBS/*" kafka.Kafka "$PROPS"
  ) </dev/null >>"$LOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PIDF"
  say "started kafka $VERSION (pid $pid), waiting for $BOOTSTRAP"
  sleep 0.3
  wait_ready "$pid" "$t0"
}

do_stop() {
  lock_state
  local pid
  pid=$(broker_pid)
  if [[ -z $pid ]]; then
    rm -f "$PIDF"
    say "not running"
    return 0
  fi
  local t0=$SECONDS
  say "stopping broker (pid $pid, SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    err "broker did not exit within ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "broker pid $pid survived SIGKILL"
  fi
  rm -f "$PIDF"
  say "stopped ($((SECONDS - t0))s)"
}

do_kill() {
  lock_state
  local pid
  pid=$(broker_pid)
  if [[ -z $pid ]]; then
    rm -f "$PIDF"
    say "not running"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || die "broker pid $pid survived SIGKILL"
  rm -f "$PIDF"
  say "killed broker (pid $pid, SIGKILL)"
}

do_status() {
  local pid
  pid=$(broker_pid)
  if [[ -z $pid ]]; then
    say "not running ($STATE)"
    return 3
  fi
  if answers; then
    say "running at $BOOTSTRAP (pid $pid, kafka $VERSION, state $STATE)"
    return 0
  fi
  say "process $pid exists but does not answer at $BOOTSTRAP"
  return 1
}

do_topic() {
  local sub=${1:-}
  shift || true
  local tc=org.apache.kafka.tools.TopicCommand
  case $sub in
    create)
      [[ $# -ge 2 ]] || die "usage: topic create NAME PARTITIONS [KEY=VALUE...]"
      local name=$1 parts=$2; shift 2
      [[ $parts =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive integer, got '$parts'"
      local cfg=() kv
      for kv in "$@"; do cfg+=(--config "$kv"); done
      run_tool "$tc" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$name" --partitions "$parts" --replication-factor 1 "${cfg[@]}"
      ;;
    delete)
      [[ $# -eq 1 ]] || die "usage: topic delete NAME"
      run_tool "$tc" --bootstrap-server "$BOOTSTRAP" --delete --if-exists --topic "$1"
      ;;
    list)
      run_tool "$tc" --bootstrap-server "$BOOTSTRAP" --list
      ;;
    describe)
      if [[ $# -ge 1 ]]; then
        run_tool "$tc" --bootstrap-server "$BOOTSTRAP" --describe --topic "$1"
      else
        run_tool "$tc" --bootstrap-server "$BOOTSTRAP" --describe
      fi
      ;;
    *) die "usage: topic create|delete|list|describe ..." ;;
  esac
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
  fetch)     do_fetch ;;
  start)     do_start ;;
  stop)      do_stop ;;
  restart)   do_stop; exec 9>&-; do_start ;;
  kill)      do_kill ;;
  status)    do_status ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  logs)      echo "$LOG" ;;
  topic)     do_topic "$@" ;;
  tool)      [[ $# -ge 1 ]] || die "usage: tool CLASS [ARGS...]"; run_tool "$@" ;;
  -h|--help|help) usage ;;
  "")        usage >&2; exit 2 ;;
  *)         err "unknown command '$cmd'"; usage >&2; exit 2 ;;
esac
