# Helpers of the local cluster scripts (sourced, not run): messages, processes by pid, cgroups.
# shellcheck shell=bash

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() { printf '[local-cluster] error: %s\n' "$*" >&2; exit 1; }

pid_file() { echo "$PID_DIR/$1.pid"; }

# True when the component's recorded pid is a live process.
running() {
  local file
  file="$(pid_file "$1")"
  [[ -f "$file" ]] && kill -0 "$(cat "$file")" 2>/dev/null
}

# Puts this shell into the cluster's cgroup in every hierarchy, so that what it execs (and
# every child, containerd's shims included) can be found and stopped by down.sh.
join_cgroup() {
  local ctrl
  for ctrl in "${CGROUP_CONTROLLERS[@]}"; do
    echo "$BASHPID" >"/sys/fs/cgroup/$ctrl/$CGROUP/node/cgroup.procs"
  done
}

# Starts NAME in the background, in the node cgroup, logging to LOG_DIR; records its pid.
start_process() {
  local name="$1"
  shift
  (
    join_cgroup
    exec setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null
  ) &
  echo "$!" >"$(pid_file "$name")"
}

# Fails with the tail of NAME's log when its process has died.
check_alive() {
  running "$1" && return 0
  log "$1 exited; the end of $LOG_DIR/$1.log:"
  tail -n 25 "$LOG_DIR/$1.log" >&2 || true
  return 1
}

# Waits up to SECONDS for COMMAND to succeed while NAME stays alive.
wait_for() {
  local name="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    check_alive "$name" || exit 1
    ((SECONDS < deadline)) || die "$name not ready after ${seconds}s (see $LOG_DIR/$name.log)"
    sleep 0.5
  done
}

# Creates the cluster cgroup (node processes in node/, pods below it) in every hierarchy.
make_cgroups() {
  local ctrl dir
  for ctrl in "${CGROUP_CONTROLLERS[@]}"; do
    for dir in "/sys/fs/cgroup/$ctrl/$CGROUP" "/sys/fs/cgroup/$ctrl/$CGROUP/node"; do
      mkdir -p "$dir"
      # A cpuset cgroup accepts no task until it has cpus and mems of its own.
      if [[ "$ctrl" == cpuset ]]; then
        cat "$(dirname "$dir")/cpuset.cpus" >"$dir/cpuset.cpus"
        cat "$(dirname "$dir")/cpuset.mems" >"$dir/cpuset.mems"
      fi
    done
  done
}

# Every pid in the cluster's cgroup tree: node processes, shims and pod containers.
cgroup_pids() {
  local root="/sys/fs/cgroup/pids/$CGROUP"
  [[ -d "$root" ]] || return 0
  find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}
