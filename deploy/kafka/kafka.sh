#!/usr/bin/env bash
# Local Apache Kafka for developers and CI, run from Maven Central's jars (no Docker).
#
#   kafka.sh fetch    resolve the broker's jars into the cache (once per version)
#   kafka.sh up       format KRaft storage if new, start the broker, wait until it
#                     answers a metadata request; reuses a broker that is running
#   kafka.sh down     stop it cleanly (SIGTERM, then SIGKILL after a deadline)
#   kafka.sh status   say whether it runs and answers
#   kafka.sh wipe     stop it and delete its data
#
# Secured mode (KAFKA_SECURITY=sasl, or sasl_ssl for SASL over TLS with a CA
# and a broker certificate made by openssl into $KAFKA_RUN_DIR/tls, clients
# trusting tls/ca.pem): the client listener takes SASL/SCRAM
# (SCRAM-SHA-512 and -256) on loopback, the standard authorizer (KRaft's
# StandardAuthorizer) refuses what no ACL allows, KAFKA_ADMIN_USER (admin) is
# the super user (its password: KAFKA_ADMIN_PASSWORD, else generated once into
# $KAFKA_RUN_DIR/admin.password), and KAFKA_SCRAM_USERS ("name:password ...")
# are created with the storage when it is formatted. The controller listener
# stays plaintext on loopback; its principal (ANONYMOUS) is a super user so the
# broker can reach its own controller.
#
# Settings (environment): KAFKA_HOST (127.0.0.1), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_RUN_DIR (.run/kafka-$KAFKA_PORT),
# KAFKA_HEAP (768m), KAFKA_START_TIMEOUT (90 s), CONCIERGE_CACHE_DIR
# (~/.cache/concierge), PYTHON (.venv/bin/python, used for the readiness probe).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
host="${KAFKA_HOST:-127.0.0.1}"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
run_dir="${KAFKA_RUN_DIR:-$repo/.run/kafka-$port}"
heap="${KAFKA_HEAP:-768m}"
start_timeout="${KAFKA_START_TIMEOUT:-90}"
cache_root="${CONCIERGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/concierge}"
python="${PYTHON:-$repo/.venv/bin/python}"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
# The cache is keyed by the dependency list, so editing pom.xml fetches afresh.
libs_dir="$cache_root/kafka-$kafka_version-$(sha256sum "$here/pom.xml" | cut -c1-12)/libs"
pid_file="$run_dir/kafka.pid"
log_file="$run_dir/logs/console.log"

say() { echo "kafka.sh: $*" >&2; }
fail() { say "$*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

running_pid() {
  [ -f "$pid_file" ] || return 1
  local pid; pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"; return 0
  fi
  return 1
}

security="${KAFKA_SECURITY:-plaintext}"
admin_user="${KAFKA_ADMIN_USER:-admin}"

admin_password() {
  if [ -n "${KAFKA_ADMIN_PASSWORD:-}" ]; then echo "$KAFKA_ADMIN_PASSWORD"; return; fi
  local file="$run_dir/admin.password"
  if [ ! -f "$file" ]; then
    mkdir -p "$run_dir"
    (umask 077; "$python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$file")
  fi
  cat "$file"
}

case "$security" in
  plaintext) listener=PLAINTEXT ;;
  sasl) listener=SASL_PLAINTEXT ;;
  sasl_ssl) listener=SASL_SSL ;;
  *) fail "KAFKA_SECURITY must be plaintext, sasl or sasl_ssl, not '$security'" ;;
esac
listener_lower="$(echo "$listener" | tr '[:upper:]' '[:lower:]')"
tls_dir="$run_dir/tls"

secured() { [ "$listener" != PLAINTEXT ]; }

make_tls() {
  # A local CA and a certificate for the broker's address, made once per run dir.
  [ -f "$tls_dir/broker.pem" ] && return 0
  command -v openssl >/dev/null || fail "openssl is required for KAFKA_SECURITY=sasl_ssl"
  mkdir -p "$tls_dir"; chmod 700 "$tls_dir"
  (
    cd "$tls_dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
      -subj "/CN=concierge-local-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr \
      -subj "/CN=$host" 2>/dev/null
    printf 'subjectAltName=IP:%s,DNS:localhost\n' "$host" >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out broker.crt -days 30 -extfile broker.ext 2>/dev/null
    # Kafka's PEM key store: the private key (PKCS#8) and the certificate chain.
    cat broker.key broker.crt >broker.pem
  ) || fail "could not make the local TLS certificates in $tls_dir"
}

answers() {
  if secured; then
    local tls=()
    [ "$listener" = SASL_SSL ] && tls=("CONCIERGE_KAFKA_SSL_CAFILE=$tls_dir/ca.pem")
    env "${tls[@]}" CONCIERGE_KAFKA_SECURITY_PROTOCOL="$listener" CONCIERGE_KAFKA_SASL_MECHANISM=SCRAM-SHA-512 \
    CONCIERGE_KAFKA_SASL_USERNAME="$admin_user" CONCIERGE_KAFKA_SASL_PASSWORD="$(admin_password)" \
      "$python" -m libs.common.broker_probe --bootstrap "$host:$port" --timeout "${1:-5}" >/dev/null 2>&1
    return
  fi
  "$python" -m libs.common.broker_probe --bootstrap "$host:$port" --timeout "${1:-5}" >/dev/null 2>&1
}

fetch() {
  if [ -f "$libs_dir/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || fail "Maven (mvn) is required to fetch Kafka $kafka_version"
  command -v java >/dev/null || fail "Java 17+ is required to run Kafka $kafka_version"
  say "fetching Apache Kafka $kafka_version jars from Maven Central into $libs_dir"
  mkdir -p "$libs_dir"
  local mvn_log="$cache_root/mvn-fetch.log"
  if ! mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs_dir" -DincludeScope=runtime >"$mvn_log" 2>&1; then
    fail "Maven could not fetch the jars; see $mvn_log"
  fi
  touch "$libs_dir/.complete"
}

render_config() {
  sed -e "s#@HOST@#$host#g" -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$controller_port#g" \
      -e "s#@DATA_DIR@#$run_dir/data#g" -e "s#@DEFAULT_PARTITIONS@#${KAFKA_DEFAULT_PARTITIONS:-4}#g" \
      -e "s#@OFFSETS_PARTITIONS@#${KAFKA_OFFSETS_PARTITIONS:-10}#g" \
      -e "s#@AUTO_CREATE@#${KAFKA_AUTO_CREATE_TOPICS:-false}#g" \
      "$here/server.properties.template" >"$run_dir/server.properties"
  if secured; then
    local pw; pw="$(admin_password)"
    sed -i -e "s#^listeners=PLAINTEXT://#listeners=$listener://#" \
      -e "s#^advertised.listeners=PLAINTEXT://#advertised.listeners=$listener://#" \
      -e "s#^listener.security.protocol.map=.*#listener.security.protocol.map=CONTROLLER:PLAINTEXT,$listener:$listener#" \
      -e "s#^inter.broker.listener.name=.*#inter.broker.listener.name=$listener#" \
      "$run_dir/server.properties"
    cat >>"$run_dir/server.properties" <<PROPS
# Secured mode (KAFKA_SECURITY=$security).
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.$listener_lower.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$admin_user" password="$pw";
listener.name.$listener_lower.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$admin_user" password="$pw";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$admin_user;User:ANONYMOUS
PROPS
    if [ "$listener" = SASL_SSL ]; then
      make_tls
      cat >>"$run_dir/server.properties" <<PROPS
ssl.keystore.type=PEM
ssl.keystore.location=$tls_dir/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls_dir/ca.pem
ssl.client.auth=none
PROPS
    fi
    chmod 600 "$run_dir/server.properties"
  fi
}

scram_args() {
  # --add-scram for the admin and every KAFKA_SCRAM_USERS entry, both SHA sizes.
  secured || return 0
  local entry name password
  for entry in "$admin_user:$(admin_password)" ${KAFKA_SCRAM_USERS:-}; do
    name="${entry%%:*}"; password="${entry#*:}"
    for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
      printf '%s\n' --add-scram "$mechanism=[name=$name,password=$password]"
    done
  done
}

java_run() {
  java -Xms128m "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.dir=$run_dir/logs" \
    -cp "$libs_dir/*" "$@"
}

up() {
  local pid
  if pid="$(running_pid)"; then
    if answers 10; then say "already running (pid $pid) on $host:$port"; return 0; fi
    fail "a broker process (pid $pid) exists but does not answer on $host:$port; run '$0 down' and retry (log: $log_file)"
  fi
  if [ -f "$pid_file" ]; then
    say "removing stale pid file $pid_file (its broker is no longer running)"
    rm -f "$pid_file"
  fi
  if port_open "$host" "$port"; then
    fail "port $host:$port is already taken by another process; set KAFKA_PORT or stop it"
  fi
  if port_open "$host" "$controller_port"; then
    fail "controller port $host:$controller_port is already taken; set KAFKA_CONTROLLER_PORT or stop it"
  fi
  fetch
  mkdir -p "$run_dir/logs" "$run_dir/data"
  render_config
  if [ ! -f "$run_dir/data/meta.properties" ]; then
    local cluster_id; cluster_id="$(java_run kafka.tools.StorageTool random-uuid 2>>"$log_file")"
    local scram=()
    mapfile -t scram < <(scram_args)
    java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$run_dir/server.properties" \
      "${scram[@]}" 2>>"$log_file" | grep -v UserScramCredentialRecord >>"$log_file" \
      || fail "formatting KRaft storage failed; see $log_file"
  fi
  local started; started=$(date +%s)
  # Its own session: a Ctrl-C meant for the caller must not stop the broker
  # before the services that still need it to commit their offsets.
  setsid nohup java -Xms128m "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.dir=$run_dir/logs" \
    -cp "$libs_dir/*" kafka.Kafka "$run_dir/server.properties" >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  pid=$!
  while true; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      fail "the broker exited during start-up; see $log_file and $run_dir/logs/server.log"
    fi
    if port_open "$host" "$port" && answers 5; then break; fi
    if (( $(date +%s) - started > start_timeout )); then
      fail "the broker did not answer within ${start_timeout}s; see $log_file and $run_dir/logs/server.log"
    fi
    sleep 0.5
  done
  if secured; then say "secured: $listener/SCRAM with ACLs; super user $admin_user"; fi
  say "Kafka $kafka_version is up on $host:$port (pid $pid, $(( $(date +%s) - started ))s; logs in $run_dir/logs)"
}

down() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pid_file"; say "not running on $host:$port"; return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; say "stopped (pid $pid)"; return 0; }
    sleep 0.5
  done
  say "the broker did not stop within 30 s; killing pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    if answers 5; then echo "running (pid $pid) on $host:$port"; return 0; fi
    echo "process $pid exists but does not answer on $host:$port"; return 1
  fi
  echo "not running on $host:$port"; return 3
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  wipe) down; rm -rf "$run_dir"; say "deleted $run_dir" ;;
  *) echo "usage: $0 {fetch|up|down|status|wipe}" >&2; exit 2 ;;
esac
