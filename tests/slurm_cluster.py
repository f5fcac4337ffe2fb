"""A real single-node SLURM cluster for the profile tests: munge, slurmctld and slurmd
started from Debian's slurm-wlm with a generated slurm.conf in a temporary directory.

``.ci/run`` installs the packages; where they are missing or the daemons cannot start
(not root, no munge key), :func:`start_cluster` raises :class:`ClusterUnavailable` with
the reason, and the tests skip with it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")

MARKER = "# written by topoact's tests/slurm_cluster.py"
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")

SLURM_CONF = MARKER + """
ClusterName=topoact-test
SlurmctldHost={host}(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
{node}
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
# The node is named `localhost`, found at the real host name (slurmd checks that name).
NODE = ("NodeName=localhost NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} "
        "RealMemory={memory} State=UNKNOWN")


class ClusterUnavailable(RuntimeError):
    """SLURM cannot be started here (the message says why)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _munge_running() -> bool:
    try:
        token = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        check = subprocess.run(["unmunge"], input=token.stdout, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return token.returncode == 0 and check.returncode == 0


def _start_munge() -> None:
    if _munge_running():
        return
    if not Path("/etc/munge/munge.key").exists():
        raise ClusterUnavailable("no /etc/munge/munge.key (install Debian's munge)")
    for directory in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=False, timeout=30)
    for _ in range(50):
        if _munge_running():
            return
        time.sleep(0.2)
    raise ClusterUnavailable("munged did not start")


class Cluster:
    """A running single-node cluster.

    Its slurm.conf is installed at the system path, /etc/slurm/slurm.conf: srun inside a
    batch job (the SLURM executor plugin's job step) reads the configuration from there,
    not from the submitter's SLURM_CONF. An existing file not written by these tests is
    never touched (the cluster is then unavailable).
    """

    def __init__(self, root: Path):
        self.root = root
        self.conf = SYSTEM_CONF
        self.env = dict(os.environ)

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(command), capture_output=True, text=True, env=self.env,
                              check=check, timeout=60)

    def jobs(self) -> list[tuple[str, str, str]]:
        """(job id, state, name) of the jobs squeue knows."""
        out = self.run("squeue", "-h", "-o", "%i|%T|%j|%k", check=False).stdout
        return [tuple(line.split("|")[:3]) for line in out.splitlines() if line.strip()]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in (self.root / "slurmctld.log", self.root / "slurmd.log")
                         if p.exists())

    def stop(self) -> None:
        self.run("scontrol", "shutdown", check=False)
        for pid_file in ("slurmd.pid", "slurmctld.pid"):
            path = self.root / pid_file
            if path.exists():
                try:
                    os.kill(int(path.read_text().strip()), 15)
                except (ProcessLookupError, ValueError):
                    pass
        if self.conf.exists() and self.conf.read_text().startswith(MARKER):
            self.conf.unlink()


def start_cluster(root: Path) -> Cluster:
    """Start munge (if needed), slurmctld and slurmd; wait until the node is idle."""
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        raise ClusterUnavailable(f"SLURM not installed here (missing {missing}); "
                                 "apt-get install slurmctld slurmd munge")
    if os.geteuid() != 0:
        raise ClusterUnavailable("starting slurmctld/slurmd needs root")
    if SYSTEM_CONF.exists() and not SYSTEM_CONF.read_text().startswith(MARKER):
        raise ClusterUnavailable(f"{SYSTEM_CONF} exists and is not this test's: a real "
                                 "cluster's configuration is not overwritten")
    _start_munge()
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    for directory in ("state", "spool"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    memory = int(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 * 0.9)
    cluster = Cluster(root)
    host = socket.gethostname()
    cluster.conf.write_text(SLURM_CONF.format(
        host=host, root=root, ctld_port=_free_port(), slurmd_port=_free_port(),
        node=NODE.format(host=host, cpus=os.cpu_count(), memory=memory)))
    for daemon in ("slurmctld", "slurmd"):
        result = subprocess.run([daemon, "-f", str(cluster.conf)], capture_output=True,
                                text=True, env=cluster.env, timeout=60)
        if result.returncode != 0:
            cluster.stop()
            raise ClusterUnavailable(f"{daemon} failed to start: {result.stderr.strip()}\n"
                                     f"{cluster.logs()}")
    for _ in range(150):
        state = cluster.run("sinfo", "-h", "-o", "%T", check=False).stdout.strip()
        if state.startswith("idle"):
            return cluster
        time.sleep(0.2)
    cluster.stop()
    raise ClusterUnavailable(f"the node did not become idle (sinfo: {state!r})\n"
                             f"{cluster.logs()}")
