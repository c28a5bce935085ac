"""The workflow through SLURM for real: a one-node cluster on this machine (Debian's slurm-wlm and
munge, which .ci/run installs), Snakemake's SLURM executor and the repository's profile, building
one participant's stores: each of its jobs is a SLURM job, and what they write is what the local
run wrote."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import xarray as xr
from conftest import REPO, SNAKEMAKE, workflow_folder
from test_workflow import PARTICIPANTS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("slurmctld") is None or os.geteuid() != 0,
        reason="needs root and Debian's slurm-wlm and munge (.ci/run installs them)",
    ),
]

CONF = Path("/etc/slurm/slurm.conf")  # where srun inside a job looks for it
# What a container without systemd or cgroup delegation needs (../shared/notes/stack.md).
SLURM_CONF = """ClusterName=spectrohar
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
NodeName={host} CPUs={cpus} RealMemory=8000 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node SLURM cluster on localhost, ended when the module's tests are done."""
    if CONF.exists():
        pytest.skip(f"{CONF} exists: this machine has a SLURM cluster of its own")
    folder = tmp_path_factory.mktemp("slurm")
    for name in ("state", "spool"):
        (folder / name).mkdir()
    CONF.parent.mkdir(parents=True, exist_ok=True)
    host, cpus = socket.gethostname().split(".")[0], len(os.sched_getaffinity(0))
    CONF.write_text(SLURM_CONF.format(host=host, folder=folder, cpus=cpus))
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["mungekey", "--create"], check=True)
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    subprocess.run(["munged", "--force", f"--pid-file={folder}/munged.pid"], check=True)
    subprocess.run(["slurmctld"], check=True)
    subprocess.run(["slurmd"], check=True)
    deadline = time.monotonic() + 60
    while "idle" not in subprocess.run(["sinfo", "-h"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, (folder / "slurmctld.log").read_text()[-2000:]
        time.sleep(1)
    yield cpus
    for daemon in ("slurmd", "slurmctld", "munged"):
        os.kill(int((folder / f"{daemon}.pid").read_text()), signal.SIGTERM)
    CONF.unlink()


def test_a_participants_stores_built_on_slurm_are_the_local_ones(cluster, small_run, tmp_path):
    local = small_run
    (tmp_path / "slurm").mkdir()
    on_slurm = workflow_folder(tmp_path / "slurm")
    participant = PARTICIPANTS[0]
    # Its recording, windows and spectrograms: three jobs, each submitted to SLURM.
    stores = [f"results/{kind}/{participant}.zarr" for kind in ("windows", "spectrograms")]
    started = time.monotonic()
    result = subprocess.run(
        [
            *SNAKEMAKE,
            "--configfile",
            "small.yaml",
            "--profile",
            str(REPO / "workflow/profiles/slurm"),
            "--slurm-status-command",  # this cluster keeps no accounting database for sacct
            "squeue",
            # A first look at a job after 2 s, not the 40 s a shared cluster's controller wants.
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--seconds-between-status-checks",
            "1",
            *stores,
        ],
        cwd=on_slurm,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"SLURM run: {time.monotonic() - started:.0f} s")
    submitted = re.findall(r"has been submitted with SLURM jobid", result.stderr)
    assert len(submitted) == result.stderr.count("Finished jobid") == 3, result.stderr[-3000:]
    assert not (on_slurm / "results" / "split.csv").exists()  # nothing else was built

    for store in stores:
        xr.testing.assert_identical(
            *(xr.open_zarr(folder / store).load() for folder in (local, on_slurm))
        )
