#!/bin/bash
# Elastic Vision instance bootstrap (EC2 user data), for the worker and the web tier.
#
# infra/user_data.py renders this file: it replaces the PARAMETERS line below with `export`
# lines (EV_* parameters and the service's EVISION_* settings). Run unrendered, it reads the same
# variables from the environment (that is how tests/infra/test_bootstrap.py runs it).
#
# Steps: download the service bundle (the CDK asset: services/ + model/ + pyproject.toml) with
# `aws s3 cp`, unpack it, create a virtualenv, install from the bundle's wheelhouse (no package
# index: pinned, hash-checked wheels, infra/wheelhouse.py), write the env file and a systemd unit
# (enabled: it starts at every boot, warm-pool starts included), enable and start it.
#
# Parameters
#   EV_ROLE             worker | web
#   EV_BUNDLE_URL       s3://bucket/key.zip of the service bundle
#   EV_SERVICE_ENV      names of the variables written to the service's env file (space separated)
#   EV_DRAIN_SECONDS    worker: how long a stopping worker may finish its batch (TimeoutStopSec)
#   EV_WEB_PORT         web: the port served (80)
#   EV_LOCK             the bundle's lock to install (requirements.lock; with the OpenVINO
#                       engine requirements-openvino.lock)
#   EV_ROOT             prefix of every path written ("" on an instance; a sandbox in tests)
#   EV_PYTHON           interpreter for the virtualenv (python3.11, installed with dnf if missing)
# @@PARAMETERS@@
set -euo pipefail

: "${EV_ROLE:?worker or web}" "${EV_BUNDLE_URL:?s3 url of the service bundle}"
EV_SERVICE_ENV=${EV_SERVICE_ENV:-}
EV_DRAIN_SECONDS=${EV_DRAIN_SECONDS:-90}
EV_WEB_PORT=${EV_WEB_PORT:-80}
EV_LOCK=${EV_LOCK:-requirements.lock}
EV_ROOT=${EV_ROOT:-}
EV_PYTHON=${EV_PYTHON:-python3.11}

app_dir="$EV_ROOT/opt/evision"
env_file="$EV_ROOT/etc/evision/$EV_ROLE.env"
unit_name="evision-$EV_ROLE.service"
unit_file="$EV_ROOT/etc/systemd/system/$unit_name"

log() { echo "evision-bootstrap: +${SECONDS}s $*" >&2; }  # seconds since the script started

retry() {  # retry CMD...: IAM grants and the network can take a moment after boot
    local attempt
    for attempt in 1 2 3 4 5; do
        "$@" && return 0
        log "attempt $attempt of '$*' failed; retrying"
        sleep $((attempt * 5))
    done
    "$@"
}

case "$EV_ROLE" in
    worker) exec_start="$app_dir/venv/bin/evision worker" ;;
    web) exec_start="$app_dir/venv/bin/evision web --host 0.0.0.0 --port $EV_WEB_PORT" ;;
    *) log "EV_ROLE must be worker or web, got '$EV_ROLE'"; exit 2 ;;
esac

# Amazon Linux 2023 ships Python 3.9 and the AWS CLI v2; the services need Python >= 3.11.
if ! command -v "$EV_PYTHON" >/dev/null; then
    retry dnf install -y python3.11 python3.11-pip
fi
if ! command -v aws >/dev/null; then
    retry dnf install -y awscli-2
fi

log "installing $EV_ROLE from $EV_BUNDLE_URL"
mkdir -p "$app_dir"
retry aws s3 cp --only-show-errors "$EV_BUNDLE_URL" "$app_dir/bundle.zip"
log "phase download done"
rm -rf "$app_dir/src"
"$EV_PYTHON" -m zipfile -e "$app_dir/bundle.zip" "$app_dir/src"  # no unzip needed
"$EV_PYTHON" -m venv --clear "$app_dir/venv"
log "phase venv done"
# Offline: the pinned, hash-checked dependencies from the bundle's wheelhouse, then the service.
pip_offline=("$app_dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index)
"${pip_offline[@]}" --find-links "$app_dir/src/build/wheelhouse" --require-hashes -r "$app_dir/src/$EV_LOCK"
"${pip_offline[@]}" --no-deps "$app_dir"/src/build/wheelhouse/elastic_vision-*.whl
log "phase install done"

mkdir -p "$(dirname "$env_file")"
: >"$env_file"
chmod 0644 "$env_file"
for name in $EV_SERVICE_ENV; do
    value=${!name?"$name is listed in EV_SERVICE_ENV but not set"}
    case "$value" in
        *[[:space:]\"\'\\]*) log "$name has a value systemd would misread: '$value'"; exit 2 ;;
    esac
    printf '%s=%s\n' "$name" "$value" >>"$env_file"
done

mkdir -p "$(dirname "$unit_file")"
if [ "$EV_ROLE" = worker ]; then
    # The first SIGTERM makes the worker finish its batch and exit; only the main process gets
    # it (KillMode=mixed), and SIGKILL follows only after the drain timeout.
    stop_settings="KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=$EV_DRAIN_SECONDS"
else
    # Port 80 without root. SIGTERM to uvicorn's process manager only (KillMode=mixed): it stops
    # each web process, which finishes its uploads in hand and deletes its reply queue.
    stop_settings="AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=$EV_DRAIN_SECONDS"
fi
cat >"$unit_file" <<EOF
[Unit]
Description=Elastic Vision $EV_ROLE
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
EnvironmentFile=$env_file
ExecStart=$exec_start
Restart=on-failure
RestartSec=5
$stop_settings
DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
EOF

systemctl daemon-reload
systemctl enable --now "$unit_name"
log "$unit_name started"
