#!/bin/sh
# Install monitor as a systemd service, run as a system user that owns only what it writes.
#
#   sudo deploy/install.sh                       # /opt/monitor, user monitor, unit enabled and started
#   sudo deploy/install.sh --prefix /srv/monitor --user news --no-start
#
# Code and virtualenv belong to root (the service cannot change its own code); the user owns
# state/ (the database), config/ and rules/ (so `monitor feeds add` and rule edits work).
# An existing config/ or rules/ under the prefix is kept, never overwritten.
# Options: --prefix DIR, --user NAME, --unit-dir DIR (default /etc/systemd/system),
#          --python PY (default python3; it must be executable by the user, so not one under /root),
#          --no-start (install the unit, do not start it),
#          --pip-args "ARGS" (extra arguments for pip install, e.g. --no-index --find-links DIR).
set -eu

PREFIX=/opt/monitor
SERVICE_USER=monitor
UNIT_DIR=/etc/systemd/system
PYTHON=python3
START=1
PIP_ARGS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --user) SERVICE_USER=$2; shift 2 ;;
        --unit-dir) UNIT_DIR=$2; shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        --no-start) START=0; shift ;;
        --pip-args) PIP_ARGS=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "install.sh: $*"; }
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (it creates a user and installs a unit)" >&2; exit 1; }

if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "creating system user $SERVICE_USER"
    useradd --system --home-dir "$PREFIX" --no-create-home --shell /usr/sbin/nologin --user-group "$SERVICE_USER"
fi

say "installing the code into $PREFIX"
mkdir -p "$PREFIX"
for item in pyproject.toml README.md monitor deploy; do
    rm -rf "${PREFIX:?}/$item"
    cp -R "$SRC/$item" "$PREFIX/$item"
done
find "$PREFIX/monitor" -name __pycache__ -prune -exec rm -rf {} +
for item in config rules; do
    if [ -e "$PREFIX/$item" ]; then say "keeping the existing $PREFIX/$item"; else cp -R "$SRC/$item" "$PREFIX/$item"; fi
done
mkdir -p "$PREFIX/state"

say "creating the virtualenv $PREFIX/.venv"
"$PYTHON" -m venv "$PREFIX/.venv"
# shellcheck disable=SC2086  # PIP_ARGS is a list of words on purpose
"$PREFIX/.venv/bin/pip" install --quiet --disable-pip-version-check $PIP_ARGS "$PREFIX"
rm -rf "$PREFIX/build" "$PREFIX/monitor.egg-info"

chown -R root:root "$PREFIX"
chown -R "$SERVICE_USER:$SERVICE_USER" "$PREFIX/state" "$PREFIX/config" "$PREFIX/rules"
chmod 0750 "$PREFIX/state"

say "checking the config as $SERVICE_USER"
runuser -u "$SERVICE_USER" -- "$PREFIX/.venv/bin/monitor" --config "$PREFIX/config/monitor.yaml" config check
runuser -u "$SERVICE_USER" -- "$PREFIX/.venv/bin/monitor" --config "$PREFIX/config/monitor.yaml" migrate

mkdir -p "$UNIT_DIR"
sed -e "s#/opt/monitor#$PREFIX#g" -e "s#^User=monitor#User=$SERVICE_USER#" -e "s#^Group=monitor#Group=$SERVICE_USER#" \
    "$SRC/deploy/monitor.service" > "$UNIT_DIR/monitor.service"
say "wrote $UNIT_DIR/monitor.service"

if [ "$START" -eq 1 ]; then
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable --now monitor
        say "started: systemctl status monitor; $PREFIX/.venv/bin/monitor --config $PREFIX/config/monitor.yaml status"
    else
        say "systemd is not running here: start it later with systemctl daemon-reload && systemctl enable --now monitor"
    fi
fi
say "done. Secrets go into /etc/monitor.env (mode 600), e.g. MONITOR_SMTP_PASSWORD=..."
