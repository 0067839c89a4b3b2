#!/bin/bash
# Elastic Vision instance bootstrap, for the worker and the web tier.
#
# Not user data itself (EC2's 16 KB limit): the user data infra/user_data.py renders exports the
# EV_* parameters and the service's EVISION_* settings, downloads this file (a CDK asset, at
# EV_BOOTSTRAP_URL) and runs it, so it reads every parameter from the environment.
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
#   EV_GROUP            the instance's Auto Scaling group: told when this instance cannot serve
#   EV_LAUNCH_HOOK      worker: the group's launch lifecycle hook, ABANDONed if the install fails
#   EV_INSTANCE_ID      default: from the instance metadata service (IMDSv2), at EV_IMDS_URL
#   EV_SIGNAL_STACK     web: signal CloudFormation (cfn-signal) for this stack's resource
#   EV_SIGNAL_RESOURCE  web: ... the group's logical id, once the instance serves (or failed)
#   EV_TARGET_GROUP     web: the load balancer's target group: the signal waits until it sees
#                       this instance healthy, so a rollout never removes the old instance first
#   EV_HEALTH_SECONDS   web: how long, from this script's start, the instance may take to serve
#                       and be seen healthy (300); the group's health-check grace covers it
#   EV_STANDBY_WORKERS  web: standby workers beside the web tier (`evision worker --standby`,
#                       unit evision-standby@N; 0: none), with EV_STANDBY_ENV (their settings'
#                       names) and EV_STANDBY_MEMORY_MAX (systemd MemoryMax of each)
#   EV_LOG_GROUP        CloudWatch Logs group of the service's log (unset: journald only)
#   EV_BOOTSTRAP_LOG_GROUP  ... and of this script's output (cloud-init's log)
#   EV_ROOT             prefix of every path written ("" on an instance; a sandbox in tests)
#   EV_PYTHON           interpreter for the virtualenv (python3.11, installed with dnf if missing)
#
# A failed bootstrap is reported, never left running: the launch lifecycle action is ABANDONed
# (the group terminates the instance and launches another) and the instance is marked Unhealthy
# (the same for a web instance, which has no hook). A service that fails again and again once
# installed (systemd's start limit) marks its instance Unhealthy too (`report-unhealthy`).
set -euo pipefail

: "${EV_ROLE:?worker or web}" "${EV_BUNDLE_URL:?s3 url of the service bundle}"
EV_SERVICE_ENV=${EV_SERVICE_ENV:-}
EV_DRAIN_SECONDS=${EV_DRAIN_SECONDS:-90}
EV_WEB_PORT=${EV_WEB_PORT:-80}
EV_LOCK=${EV_LOCK:-requirements.lock}
EV_ROOT=${EV_ROOT:-}
EV_PYTHON=${EV_PYTHON:-python3.11}
EV_GROUP=${EV_GROUP:-}
EV_LAUNCH_HOOK=${EV_LAUNCH_HOOK:-}
EV_INSTANCE_ID=${EV_INSTANCE_ID:-}
EV_IMDS_URL=${EV_IMDS_URL:-http://169.254.169.254}
EV_SIGNAL_STACK=${EV_SIGNAL_STACK:-}
EV_SIGNAL_RESOURCE=${EV_SIGNAL_RESOURCE:-}
EV_TARGET_GROUP=${EV_TARGET_GROUP:-}
EV_HEALTH_SECONDS=${EV_HEALTH_SECONDS:-300}
EV_STANDBY_WORKERS=${EV_STANDBY_WORKERS:-0}
EV_STANDBY_ENV=${EV_STANDBY_ENV:-}
EV_STANDBY_MEMORY_MAX=${EV_STANDBY_MEMORY_MAX:-640M}
EV_LOG_GROUP=${EV_LOG_GROUP:-}
EV_BOOTSTRAP_LOG_GROUP=${EV_BOOTSTRAP_LOG_GROUP:-}

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

[ "$EV_ROLE" = web ] || EV_STANDBY_WORKERS=0  # standbys live beside the web tier only

case "$EV_ROLE" in
    worker) exec_start="$app_dir/venv/bin/evision worker" ;;
    web) exec_start="$app_dir/venv/bin/evision web --host 0.0.0.0 --port $EV_WEB_PORT" ;;
    *) log "EV_ROLE must be worker or web, got '$EV_ROLE'"; exit 2 ;;
esac

# The report, as a script of its own: the bootstrap runs it when it fails, and systemd when the
# installed service cannot stay up (OnFailure=). Every value it needs is written into it now.
report="$EV_ROOT/opt/evision/report-unhealthy"
mkdir -p "$(dirname "$report")"
cat >"$report" <<REPORT
#!/bin/bash
# Tell the Auto Scaling group this instance cannot serve; with the argument abandon-launch, also
# ABANDON the launch lifecycle action (the install failed). Best effort: every call is tried.
instance_id='$EV_INSTANCE_ID'
if [ -z "\$instance_id" ]; then
    token=\$(curl -fsS -m 5 -X PUT '$EV_IMDS_URL/latest/api/token' -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
    instance_id=\$(curl -fsS -m 5 -H "X-aws-ec2-metadata-token: \$token" '$EV_IMDS_URL/latest/meta-data/instance-id')
fi
if [ -n '$EV_GROUP' ] && [ -n '$EV_LAUNCH_HOOK' ] && [ "\${1:-}" = abandon-launch ]; then
    aws autoscaling complete-lifecycle-action --auto-scaling-group-name '$EV_GROUP' \
        --lifecycle-hook-name '$EV_LAUNCH_HOOK' --instance-id "\$instance_id" \
        --lifecycle-action-result ABANDON \
        && echo "evision: launch of \$instance_id abandoned" >&2
fi
if [ -n '$EV_GROUP' ]; then
    aws autoscaling set-instance-health --instance-id "\$instance_id" --health-status Unhealthy \
        --no-should-respect-grace-period \
        && echo "evision: \$instance_id marked Unhealthy" >&2
fi
REPORT
chmod 0755 "$report"

# CloudFormation takes a signal only while an operation waits for it (a CREATE, a rolling update):
# otherwise (a scale-out, a replacement, an AZ rebalance) SignalResource fails with "Stack ... is
# in UPDATE_COMPLETE state and cannot be signaled" and cfn-signal exits 1
# (aws-cloudformation-templates#126, kubernetes-on-aws#538; 2026-12). So the signal is sent only
# while the stack is *_IN_PROGRESS (or its state is unknown), and a refusal is logged, never fatal:
# an instance that serves stays in service.
stack_waits() {
    local status
    status=$(aws cloudformation describe-stacks --stack-name "$EV_SIGNAL_STACK" \
        --query 'Stacks[0].StackStatus' --output text) || return 0  # unknown: try the signal
    case "$status" in
        *_IN_PROGRESS) return 0 ;;
        *) log "stack $EV_SIGNAL_STACK is $status: no operation waits for a signal"; return 1 ;;
    esac
}

signal_stack() {  # signal_stack true|false: tell CloudFormation whether this instance serves
    [ -n "$EV_SIGNAL_RESOURCE" ] || return 0
    stack_waits || return 0
    if ! command -v cfn-signal >/dev/null && [ -x /opt/aws/bin/cfn-signal ]; then
        PATH="$PATH:/opt/aws/bin"
    fi
    if cfn-signal --success "$1" --stack "$EV_SIGNAL_STACK" --resource "$EV_SIGNAL_RESOURCE" \
        --region "${AWS_REGION:-us-east-1}"; then
        log "signalled $EV_SIGNAL_RESOURCE: success=$1"
    else
        log "cfn-signal refused or unavailable (exit $?): ignored, the signal only paces a rollout"
    fi
}

on_exit() {
    local code=$?
    if [ "$code" -ne 0 ]; then
        log "FAILED (exit $code): reporting this instance as unable to serve"
        signal_stack false || true
        "$report" abandon-launch || true
    fi
}
trap on_exit EXIT

# Amazon Linux 2023 ships Python 3.9 and the AWS CLI v2; the services need Python >= 3.11.
if ! command -v "$EV_PYTHON" >/dev/null; then
    retry dnf install -y python3.11 python3.11-pip
fi
if ! command -v aws >/dev/null; then
    retry dnf install -y awscli-2
fi
# Best effort, like the CloudWatch agent below: on AL2023 both come from the distribution's
# repositories, not the AMI, and a repository hiccup must not fail the launch. Without cfn-signal
# a rollout waits for its timeout and rolls back; without the agent, logs stay in journald.
if [ -n "$EV_SIGNAL_RESOURCE" ] && ! command -v cfn-signal >/dev/null && [ ! -x /opt/aws/bin/cfn-signal ]; then
    retry dnf install -y aws-cfn-bootstrap || log "aws-cfn-bootstrap not installed: no rollout signal"
fi

if [ -n "$EV_LOG_GROUP" ]; then
    # Logs where AWS users look, from the start (a failed install's output is shipped too): the
    # CloudWatch agent from the Amazon Linux repositories tails the service's log file (JSON
    # lines) and cloud-init's output, one stream per instance; logrotate keeps the file bounded.
    ctl=amazon-cloudwatch-agent-ctl
    if ! command -v "$ctl" >/dev/null; then
        ctl=/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
        [ -x "$ctl" ] || retry dnf install -y amazon-cloudwatch-agent \
            || log "amazon-cloudwatch-agent not installed: logs stay in journald and the log files"
    fi
    mkdir -p "$EV_ROOT/var/log/evision" "$EV_ROOT/etc/logrotate.d"
    cat >"$EV_ROOT/etc/logrotate.d/evision" <<ROTATE
/var/log/evision/*.log {
    daily
    maxsize 100M
    rotate 3
    compress
    copytruncate
    missingok
}
ROTATE
    agent_config="$EV_ROOT/opt/evision/cloudwatch-agent.json"
    standby_shipped=""
    if [ "$EV_STANDBY_WORKERS" -gt 0 ]; then
        standby_shipped="  {\"file_path\": \"/var/log/evision/standby.log\", \"log_group_name\": \"$EV_LOG_GROUP\",
   \"log_stream_name\": \"{instance_id}-standby\", \"timezone\": \"UTC\"},
"
    fi
    cat >"$agent_config" <<AGENT
{"logs": {"logs_collected": {"files": {"collect_list": [
  {"file_path": "/var/log/evision/$EV_ROLE.log", "log_group_name": "$EV_LOG_GROUP",
   "log_stream_name": "{instance_id}", "timezone": "UTC"},
$standby_shipped  {"file_path": "/var/log/cloud-init-output.log", "log_group_name": "$EV_BOOTSTRAP_LOG_GROUP",
   "log_stream_name": "{instance_id}-$EV_ROLE", "timezone": "UTC"}
]}}}}
AGENT
    if [ -x "$ctl" ] || command -v "$ctl" >/dev/null; then
        "$ctl" -a fetch-config -m ec2 -s -c "file:$agent_config" || log "the CloudWatch agent did not start"
    fi
    log "phase logs done"
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

write_env_file() {  # write_env_file FILE NAMES: NAME=value lines for systemd's EnvironmentFile
    local file=$1 name value
    mkdir -p "$(dirname "$file")"
    : >"$file"
    chmod 0644 "$file"
    for name in $2; do
        value=${!name?"$name is listed but not set"}
        case "$value" in
            *[[:space:]\"\'\\]*) log "$name has a value systemd would misread: '$value'"; exit 2 ;;
        esac
        printf '%s=%s\n' "$name" "$value" >>"$file"
    done
}
write_env_file "$env_file" "$EV_SERVICE_ENV"

mkdir -p "$(dirname "$unit_file")"
# Every unit's sandbox (the service's and the standby workers'): a user of its own, no privilege
# to gain, a read-only system, no home, a private /tmp.
hardening="DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes"
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
output_settings=""
if [ -n "$EV_LOG_GROUP" ]; then  # into the file the agent ships (systemd opens it, as root)
    output_settings="StandardOutput=append:/var/log/evision/$EV_ROLE.log
StandardError=inherit"
fi
cat >"$unit_file" <<EOF
[Unit]
Description=Elastic Vision $EV_ROLE
Wants=network-online.target
After=network-online.target
# Restarted on failure, but not for ever: past the start limit the instance is reported.
StartLimitIntervalSec=600
StartLimitBurst=5
OnFailure=evision-report-unhealthy.service

[Service]
Type=exec
EnvironmentFile=$env_file
ExecStart=$exec_start
Restart=on-failure
RestartSec=5
# 78 (EX_CONFIG, services/exit_codes.py): the configuration cannot work; a restart cannot help.
RestartPreventExitStatus=78
$stop_settings
$output_settings
$hardening

[Install]
WantedBy=multi-user.target
EOF

cat >"$EV_ROOT/etc/systemd/system/evision-report-unhealthy.service" <<EOF
[Unit]
Description=Elastic Vision: report this instance Unhealthy to its Auto Scaling group

[Service]
Type=oneshot
ExecStart=$report
EOF

standby_units=()
if [ "$EV_STANDBY_WORKERS" -gt 0 ]; then
    # Standby workers: the worker code on this web instance, bounded so the web tier keeps what it
    # needs: one inference thread, a memory ceiling, and a low CPU weight (web processes get 5x
    # the CPU time when both want it). A standby that cannot stay up is logged, not reported: the
    # web tier still serves, and the worker group still scales.
    standby_env_file="$EV_ROOT/etc/evision/standby.env"
    write_env_file "$standby_env_file" "$EV_STANDBY_ENV"
    standby_output=""
    if [ -n "$EV_LOG_GROUP" ]; then
        standby_output="StandardOutput=append:/var/log/evision/standby.log
StandardError=inherit"
    fi
    cat >"$EV_ROOT/etc/systemd/system/evision-standby@.service" <<EOF
[Unit]
Description=Elastic Vision standby worker %i
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=exec
EnvironmentFile=$standby_env_file
ExecStart=$app_dir/venv/bin/evision worker --standby
Restart=on-failure
RestartSec=5
RestartPreventExitStatus=78
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=$EV_DRAIN_SECONDS
MemoryMax=$EV_STANDBY_MEMORY_MAX
CPUWeight=20
$standby_output
$hardening

[Install]
WantedBy=multi-user.target
EOF
    for n in $(seq 1 "$EV_STANDBY_WORKERS"); do standby_units+=("evision-standby@$n.service"); done
fi

systemctl daemon-reload
systemctl enable --now "$unit_name"
log "$unit_name started"
if [ "${#standby_units[@]}" -gt 0 ]; then
    systemctl enable --now "${standby_units[@]}"
    log "${standby_units[*]} started"
fi

if [ "$EV_ROLE" = web ] && [ -n "$EV_SIGNAL_RESOURCE" ]; then
    # A rollout replaces an old instance only once CloudFormation has this signal: first the
    # service answers here, then the load balancer counts this instance healthy.
    deadline=$EV_HEALTH_SECONDS  # from the script's start (SECONDS), install included
    until curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$EV_WEB_PORT/healthz"; do
        [ "$SECONDS" -lt "$deadline" ] || { log "/healthz did not answer within ${EV_HEALTH_SECONDS}s"; exit 3; }
        if systemctl is-failed --quiet "$unit_name"; then  # e.g. it refused its configuration
            log "$unit_name failed: $(tail -n 1 "/var/log/evision/$EV_ROLE.log" 2>/dev/null)"
            exit 3
        fi
        sleep 2
    done
    log "phase healthy done"
    if [ -n "$EV_TARGET_GROUP" ]; then
        instance_id=${EV_INSTANCE_ID:-$(curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $(curl -fsS -m 5 -X PUT \
            "$EV_IMDS_URL/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')" \
            "$EV_IMDS_URL/latest/meta-data/instance-id")}
        until [ "$(aws elbv2 describe-target-health --target-group-arn "$EV_TARGET_GROUP" \
            --targets "Id=$instance_id" --query 'TargetHealthDescriptions[0].TargetHealth.State' \
            --output text)" = healthy ]; do
            [ "$SECONDS" -lt "$deadline" ] || { log "the load balancer never saw this instance healthy"; exit 3; }
            sleep 5
        done
        log "phase in-service done"
    fi
    signal_stack true
fi
