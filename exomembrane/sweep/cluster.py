"""Dask clusters for sweeps: a local one on this machine, a SLURM or PBS one, or any scheduler.

``local`` starts a :class:`dask.distributed.LocalCluster` of worker processes (scheduler,
workers and dashboard on 127.0.0.1), one task at a time per worker: one worker per GPU (times
``per_gpu``) when GPUs are found, else ``workers`` workers sharing the CPU cores. ``slurm`` and
``pbs`` start ``jobs`` batch jobs through :mod:`dask_jobqueue` with the ``jobqueue`` keywords;
``address`` connects to a running scheduler.

Example (the ``cluster:`` section of a sweep file)
----------------------------------------------------
.. code-block:: yaml

    cluster: {kind: local, workers: 2, threads: 1}          # 2 runs at once on 2 CPU cores
    cluster: {kind: local, gpus: [0, 1, 2, 3], per_gpu: 2}  # 8 runs on a 4-GPU node
    cluster:                                                # 8 GPU jobs on a SLURM cluster
      kind: slurm
      jobs: 8
      jobqueue: {cores: 8, memory: 32GB, processes: 1, walltime: "04:00:00",
                 job_extra_directives: ["--gres=gpu:1"]}
    cluster: {kind: address, address: "tcp://10.0.0.5:8786"}
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import NonNegativeInt, PositiveInt

from exomembrane.config import ConfigError, Strict

DEVICE_ENV = "EXOMEMBRANE_DEVICE"


class ClusterSection(Strict):
    """Where the tasks of a sweep run (see the module docstring)."""

    kind: Literal["local", "slurm", "pbs", "address"] = "local"
    workers: PositiveInt | None = None  # local: worker processes; None: one per GPU slot, else 1
    threads: PositiveInt | None = None  # local: CPU threads per run; None: the cores shared among workers
    gpus: list[NonNegativeInt] | None = None  # local: device indices; None: every GPU nvidia-smi lists
    per_gpu: PositiveInt = 1  # local: runs sharing one GPU at a time
    address: str | None = None  # address: the scheduler, e.g. tcp://host:8786
    jobs: PositiveInt = 1  # slurm/pbs: batch jobs to submit
    jobqueue: dict[str, Any] = {}  # slurm/pbs: keywords of dask_jobqueue.SLURMCluster / PBSCluster
    max_failures: PositiveInt = 3  # a task is given up after its worker died this many times


def local_gpus() -> list[int]:
    """Indices of the NVIDIA GPUs of this node (as ``nvidia-smi -L`` lists them; [] if none)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return list(range(sum(line.startswith("GPU ") for line in listing.splitlines())))


def slots(section: ClusterSection) -> tuple[int, int, list[int]]:
    """``(workers, threads per worker, devices)`` of a local cluster; worker ``k`` uses
    ``devices[k % len(devices)]`` (no devices: CPU only)."""
    devices = local_gpus() if section.gpus is None else list(section.gpus)
    workers = section.workers or (len(devices) * section.per_gpu if devices else 1)
    threads = section.threads or max(1, (os.cpu_count() or 1) // workers)
    return workers, threads, devices


@contextlib.contextmanager
def open_client(section: ClusterSection) -> Iterator[Any]:
    """A :class:`dask.distributed.Client` on the cluster ``section`` describes; closes what it started."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": section.max_failures - 1}):
        if section.kind == "address":
            if not section.address:
                raise ConfigError("cluster.address: required with cluster.kind 'address' (e.g. tcp://host:8786)")
            with Client(section.address) as client:
                yield client
            return
        if section.kind == "local":
            workers, threads, _ = slots(section)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                                   env={"OPENMM_CPU_THREADS": str(threads)})
        else:
            cluster = _jobqueue(section)
        with cluster, Client(cluster) as client:
            yield client


def _jobqueue(section: ClusterSection) -> Any:
    try:
        import dask_jobqueue
    except ImportError:
        raise ConfigError(f"cluster.kind: {section.kind!r} needs dask-jobqueue: pip install "
                          f"'exomembrane[hpc]'") from None
    kind = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[section.kind]
    options = {"cores": 1, "memory": "8GB", "processes": 1, **section.jobqueue}
    try:
        cluster = kind(**options)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"cluster.jobqueue: {err}; the keys are those of dask_jobqueue."
                          f"{kind.__name__}") from None
    cluster.scale(jobs=section.jobs)
    return cluster
