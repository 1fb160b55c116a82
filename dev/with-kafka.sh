#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup and on_signal run from traps, which shellcheck cannot follow
# Runs a command with a Kafka broker available:
#
#   dev/with-kafka.sh CMD [ARGS...]
#
# A broker already running (ours, per dev/kafka.sh status, or anything answering on the
# bootstrap port) is reused and left running. Otherwise one is started with dev/kafka.sh and
# stopped again when CMD ends, whatever way it ends. Exits with CMD's exit code.
# KAFKA_BOOTSTRAP_SERVERS is exported as 127.0.0.1:$KAFKA_PORT unless already set.
set -euo pipefail

KAFKA_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka.sh"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"

started=0
child=

cleanup() {
    if ((started)); then
        "$KAFKA_SH" stop || true
    fi
}

# Bash runs a trap only after the foreground command ends, so CMD runs in the background
# and is waited for: a SIGTERM to this script then reaches CMD at once, and the broker is
# stopped after CMD has exited, not while it still uses it. A terminal's Ctrl-C already
# reaches CMD (same process group), so SIGINT is not sent a second time.
on_signal() {
    local sig="$1" code="$2"
    trap - "$sig"
    if [[ -n "$child" ]]; then
        [[ "$sig" == INT ]] || kill -s "$sig" "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    exit "$code"
}

if (($# == 0)); then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

status="$("$KAFKA_SH" status 2>/dev/null)" || status=
if [[ "$status" == *"bootstrap: 127.0.0.1:$KAFKA_PORT"* ]]; then
    :
elif [[ -n "$status" ]]; then
    # Starting would fail, and the cleanup must not stop a broker someone else relies on.
    echo "with-kafka: dev/kafka.sh's broker runs on another port than KAFKA_PORT=$KAFKA_PORT:" >&2
    echo "$status" >&2
    exit 1
elif timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT" 2>/dev/null; then
    echo "with-kafka: something already listens on 127.0.0.1:$KAFKA_PORT; using it as the broker"
else
    # Set before starting: an interrupted start can leave a broker that cleanup must stop.
    started=1
    "$KAFKA_SH" start
fi

# Without job control bash starts a background command with SIGINT and SIGQUIT ignored
# (Python would then never see Ctrl-C) and stdin from /dev/null; undo both.
(
    trap - INT QUIT
    exec "$@"
) <&0 &
child=$!
set +e
wait "$child"
rc=$?
set -e
child=
exit "$rc"
