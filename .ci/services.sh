# shellcheck shell=bash
# Services for the test suite. Sourced by .ci/run (bash, possibly under set -euo pipefail):
#
#   1. installs what the real-service tests need, with apt, when it is missing:
#      docker.io (dockerd), docker-registry, busybox-static (the base image), openssh-client,
#      gpg and gpg-agent (signed tags), buildah (multi-platform images);
#   2. stops Debian's own registry service (docker-registry.service on :5000), which the
#      package starts where systemd runs; the tests start their own registries on free ports;
#   3. reuses a Docker engine that answers (DOCKER_HOST, our earlier dockerd, the default
#      socket), else starts dockerd in the background with a short socket path, no iptables,
#      no bridge, overlay2 falling back to vfs; waits up to 60 s for it to answer;
#   4. exports DOCKER_HOST and RELEASE_TEST_REQUIRE_DOCKER=1 (tests then fail, not skip,
#      without an engine).
#
# Idempotent: sourcing it again installs nothing and reuses the running daemon. The daemon
# outlives the script (CI throws the machine away); `release_ci_stop_docker` stops it.
# Settings: RELEASE_CI_DOCKER_DIR (default /tmp/rt-ci: socket, exec-root, data, log) and
# RELEASE_CI_STORAGE_DRIVERS (default "overlay2 vfs", tried in order).

_rt_dir="${RELEASE_CI_DOCKER_DIR:-/tmp/rt-ci}"
_rt_log="$_rt_dir/dockerd.log"

_rt_say() { printf 'services: %s\n' "$*" >&2; }

_rt_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo -n "$@"
    fi
}

_rt_have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

_rt_install_packages() {
    local missing=()
    _rt_have dockerd || missing+=(docker.io)
    _rt_have docker-registry || missing+=(docker-registry)
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
        missing+=(busybox-static)
    _rt_have ssh || missing+=(openssh-client)
    _rt_have gpg || missing+=(gpg)
    _rt_have gpg-agent || missing+=(gpg-agent)
    _rt_have buildah || missing+=(buildah)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        _rt_say "error: missing ${missing[*]} and there is no apt-get to install them"
        return 1
    fi
    _rt_say "installing ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300)
    if [ -z "${_RT_APT_UPDATED:-}" ]; then
        _rt_as_root "${apt[@]}" update || { _rt_say "error: apt-get update failed"; return 1; }
        _RT_APT_UPDATED=1
    fi
    if ! _rt_as_root "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null; then
        _rt_say "error: apt-get install ${missing[*]} failed"
        return 1
    fi
}

_rt_stop_debian_registry() {
    if command -v systemctl >/dev/null 2>&1 &&
        systemctl is-active --quiet docker-registry.service 2>/dev/null; then
        _rt_say "stopping and disabling Debian's docker-registry.service (port 5000)"
        _rt_as_root systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
    fi
    # Without systemd (a container), the package's init script may have started it.
    local pid
    for pid in $(pgrep -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' || true); do
        _rt_say "stopping Debian's registry (pid $pid, /etc/docker/registry/config.yml)"
        _rt_as_root kill "$pid" 2>/dev/null || true
    done
}

# True when an engine answers at $1 (a DOCKER_HOST URL).
_rt_docker_answers() {
    [ -n "$1" ] || return 1
    DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

_rt_daemon_pid() {
    local pid
    pid=$(cat "$_rt_dir/d.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && _rt_as_root kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

# dockerd bind-mounts its data root onto itself and unmounts it only on a clean shutdown.
_rt_unmount_leftovers() {
    local point
    awk -v dir="$_rt_dir/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo 2>/dev/null |
        sort -r | while read -r point; do
        _rt_as_root umount --lazy "$point" 2>/dev/null || true
    done
}

# Stop the dockerd this script started (if it runs) and clean up after it.
release_ci_stop_docker() {
    local pid waited=0
    if pid=$(_rt_daemon_pid); then
        _rt_as_root kill "$pid" 2>/dev/null || true
        while _rt_as_root kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 60 ]; do
            sleep 0.5
            waited=$((waited + 1))
        done
        if _rt_as_root kill -0 "$pid" 2>/dev/null; then
            _rt_as_root kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    _rt_unmount_leftovers
}

# Start dockerd with storage driver $1 and wait up to 60 s; false when it did not answer.
_rt_start_dockerd() {
    local driver=$1 host="unix://$_rt_dir/d.sock" dockerd tries=0
    dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
    printf '{}\n' >"$_rt_dir/daemon.json"
    printf '\n--- %s: starting dockerd --storage-driver %s\n' "$(date -u +%FT%TZ)" "$driver" >>"$_rt_log"
    _rt_say "starting $dockerd (--storage-driver $driver, socket $host, log $_rt_log)"
    # The socket's group is the caller's, so a non-root CI user (sudo) can reach it.
    _rt_as_root env "PATH=$PATH:/usr/sbin:/sbin" "$dockerd" \
        --host "$host" \
        --group "$(id -gn)" \
        --data-root "$_rt_dir/data-$driver" \
        --exec-root "$_rt_dir/x" \
        --pidfile "$_rt_dir/d.pid" \
        --config-file "$_rt_dir/daemon.json" \
        --storage-driver "$driver" \
        --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --bridge=none --userland-proxy=false \
        --insecure-registry 127.0.0.0/8 \
        </dev/null >>"$_rt_log" 2>&1 &
    local launcher=$!
    while [ "$tries" -lt 120 ]; do
        if _rt_docker_answers "$host"; then
            export DOCKER_HOST="$host"
            return 0
        fi
        if ! _rt_as_root kill -0 "$launcher" 2>/dev/null; then
            break # dockerd exited: no point waiting
        fi
        sleep 0.5
        tries=$((tries + 1))
    done
    _rt_as_root kill "$launcher" 2>/dev/null || true # still starting after 60 s
    release_ci_stop_docker
    return 1
}

_rt_docker() {
    local host
    for host in "${DOCKER_HOST:-}" "unix://$_rt_dir/d.sock" unix:///var/run/docker.sock; do
        if _rt_docker_answers "$host"; then
            export DOCKER_HOST="$host"
            _rt_say "Docker engine answers at $host"
            return 0
        fi
    done
    mkdir -p "$_rt_dir"
    release_ci_stop_docker # a daemon of ours that no longer answers
    local driver
    for driver in ${RELEASE_CI_STORAGE_DRIVERS:-overlay2 vfs}; do
        if _rt_start_dockerd "$driver"; then
            _rt_say "dockerd answers at $DOCKER_HOST (storage driver $driver)"
            return 0
        fi
        _rt_say "dockerd did not start with --storage-driver $driver; its log $_rt_log ends with:"
        grep -v 'module=grpc' "$_rt_log" | tail -n 15 >&2 # grpc's chatter hides the cause
    done
    _rt_say "error: no Docker engine: dockerd did not start (log: $_rt_log)"
    return 1
}

_rt_services() {
    _rt_install_packages || return 1
    _rt_stop_debian_registry
    _rt_docker || return 1
    export RELEASE_TEST_REQUIRE_DOCKER=1
}

_rt_services || return 1
