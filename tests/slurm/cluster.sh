#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests/test_slurm_cluster.py and for the
# many-reviews benchmark: munged, MariaDB (accounting database), slurmdbd, slurmctld and slurmd.
#
#   tests/slurm/cluster.sh install        apt-get install what is missing (Debian packages)
#   tests/slurm/cluster.sh start DIR      write configs under DIR, start the daemons, wait for the node
#   tests/slurm/cluster.sh stop DIR       stop the daemons started from DIR
#
# Why accounting: snakemake-executor-plugin-slurm reads job states with `sacct` and looks up the
# user's account with `sacctmgr`; without slurmdbd it submits jobs but never sees them finish.
# Everything lives under DIR (configs, state, spool, logs, the database); only the munge key
# (/etc/munge/munge.key, made by the munge package) and munged's socket are system-wide.
# Daemons run as root (SlurmUser=root), as a test cluster on a throw-away machine may.
set -euo pipefail

PACKAGES="slurm-wlm slurmdbd munge mariadb-server"

die() { echo "cluster.sh: $*" >&2; exit 1; }

install_packages() {
    local missing=""
    for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || die "needs root to install:$missing (sudo apt-get install$missing)"
    echo "cluster.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq $missing >/dev/null
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2; shift 2
    for _ in $(seq 1 $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "timed out after ${limit}s waiting for $what"
}

start() {
    local dir=$1 host cpus mem_mb
    [ "$(id -u)" = 0 ] || die "the test cluster's daemons run as root"
    for b in munged mariadbd slurmdbd slurmctld slurmd sacctmgr; do
        command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "$b not found: run '$0 install'"
    done
    mkdir -p "$dir"/{state,spool,log,run,db}
    dir=$(cd "$dir" && pwd)
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))

    # munge: one daemon per machine; reuse a running one.
    if ! munge -n >/dev/null 2>&1; then
        [ -s /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
        chown munge:munge /etc/munge/munge.key; chmod 600 /etc/munge/munge.key
        mkdir -p /run/munge; chown munge:munge /run/munge
        runuser -u munge -- /usr/sbin/munged
        echo started > "$dir/run/munged.started"
        wait_for 10 munged munge -n
    fi

    # MariaDB on a private socket and port, with its own data directory.
    local port=3307
    if [ ! -d "$dir/db/mysql" ]; then
        mariadb-install-db --user=root --datadir="$dir/db" --auth-root-authentication-method=normal >"$dir/log/mariadb-install.log" 2>&1
    fi
    /usr/sbin/mariadbd --user=root --datadir="$dir/db" --socket="$dir/run/mysql.sock" --port=$port \
        --bind-address=127.0.0.1 --pid-file="$dir/run/mariadb.pid" --log-error="$dir/log/mariadb.log" >"$dir/log/mariadb.out" 2>&1 &
    wait_for 60 MariaDB mariadb --socket="$dir/run/mysql.sock" -uroot -e 'select 1'
    mariadb --socket="$dir/run/mysql.sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'livingmeta-test';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL

    cat > "$dir/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$dir/log/slurmdbd.log
PidFile=$dir/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$port
StorageUser=slurm
StoragePass=livingmeta-test
StorageLoc=slurm_acct_db
CONF
    chmod 600 "$dir/slurmdbd.conf"

    cat > "$dir/slurm.conf" <<CONF
ClusterName=livingmeta
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageEnforce=associations
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ReturnToService=2
MinJobAge=600
SchedulerParameters=defer_batch
# configless: slurmd fetches the config from slurmctld and caches it in /run/slurm/conf, where
# clients inside jobs find it (the executor's job step drops SLURM_CONF from their environment)
SlurmctldParameters=enable_configless
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"

    /usr/sbin/slurmdbd   # reads slurmdbd.conf beside $SLURM_CONF
    wait_for 60 slurmdbd sacctmgr -i show cluster
    sacctmgr -i add cluster livingmeta >/dev/null 2>&1 || true
    sacctmgr -i add account livingmeta Cluster=livingmeta Description=tests Organization=livingmeta >/dev/null 2>&1 || true
    sacctmgr -i add user root Account=livingmeta DefaultAccount=livingmeta >/dev/null 2>&1 || true

    /usr/sbin/slurmctld -f "$dir/slurm.conf"
    wait_for 60 slurmctld scontrol ping
    /usr/sbin/slurmd --conf-server "$host"
    wait_for 60 "the node to be idle" sh -c "sinfo -h -o %T | grep -qx idle"
    echo "cluster.sh: SLURM cluster up (SLURM_CONF=$dir/slurm.conf, node $host, $cpus CPUs)"
}

stop() {
    local dir=$1
    dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
    for d in slurmd slurmctld slurmdbd mariadb; do
        local pidfile="$dir/run/$d.pid"
        if [ -s "$pidfile" ]; then
            local pid; pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$pidfile"
        fi
    done
    if [ -f "$dir/run/munged.started" ]; then
        pkill -u munge -x munged 2>/dev/null || true
        rm -f "$dir/run/munged.started"
    fi
    echo "cluster.sh: stopped the daemons started from $dir"
}

case "${1:-}" in
    install) install_packages ;;
    start) [ -n "${2:-}" ] || die "usage: $0 start DIR"; start "$2" ;;
    stop) [ -n "${2:-}" ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
