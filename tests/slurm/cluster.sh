#!/usr/bin/env bash
# A one-node Slurm cluster on 127.0.0.1 for the e2e tests (after shared/notes/slurm-local.md).
#   cluster.sh up STATE     install slurm + munge from Debian if missing (root), start munged, slurmctld, slurmd;
#                           the configuration is STATE/slurm.conf: point SLURM_CONF at it
#   cluster.sh down STATE   stop what `up` started, by the PIDs it recorded
set -euo pipefail
action=${1:?up or down}; STATE=$(mkdir -p "${2:?state folder}" && cd "$2" && pwd)

down() {
  for d in slurmd slurmctld munged; do
    f="$STATE/$d.pid"; [ -s "$f" ] || continue; p=$(cat "$f")
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    rm -f "$f"
  done
}

if [ "$action" = down ]; then down; exit 0; fi
[ "$action" = up ] || { echo "usage: $0 up|down STATE" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "cluster.sh: Slurm is not installed and installing it needs root" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: one daemon for the machine; start it only if none answers, and then stop it in `down`.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$STATE/munged.pid"
  munge -n | unmunge >/dev/null
fi

H=$(hostname -s); CPUS=$(nproc)
MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
mkdir -p "$STATE/ctld" "$STATE/d" "$STATE/log"
cat > "$STATE/slurm.conf" <<CONF
ClusterName=swiftpipe-ci
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pidfile
SlurmdPidFile=$STATE/slurmd.pidfile
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$(( MEM / CPUS / 2 ))
ReturnToService=2
MinJobAge=86400
KillWait=5
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$STATE/slurm.conf
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$STATE/log/slurmctld.out" 2>&1 & echo $! >"$STATE/slurmctld.pid"
/usr/sbin/slurmd -D -f "$SLURM_CONF" -N "$H" >"$STATE/log/slurmd.out" 2>&1 & echo $! >"$STATE/slurmd.pid"
for _ in $(seq 120); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.5; done
if [ "$(sinfo -h -o %T 2>/dev/null)" != idle ]; then
  tail -n 20 "$STATE"/log/*.log "$STATE"/log/*.out >&2 || true
  down; exit 1
fi
