"""Runs: a run directory (:mod:`.directory`), its writers (:mod:`.reporters`), replica batches
(:mod:`.batch`), the headless background runner (:mod:`.runner`) and the run's report
(:mod:`.report`, with one module per act in :mod:`.reports`). Imports nothing of the notebook
or command-line layers.

Example
-------
>>> from exomembrane.scenario import load_scenario
>>> from exomembrane.run import Run, load_trajectory
>>> with Run.create(load_scenario("vesicle", {"builder.radius": 9}), "runs/v9") as run:
...     run.advance(5_000)
>>> traj = load_trajectory("runs/v9")          # an mdtraj.Trajectory
"""
from exomembrane.run.directory import (
                                       CHECKPOINT,
                                       MANIFEST,
                                       MEMBRANES,
                                       SCENARIO,
                                       THERMO,
                                       TOPOLOGY,
                                       TRAJECTORY,
                                       Run,
                                       checkpoint_steps,
                                       load_compartments,
                                       load_thermo,
                                       load_trajectory,
)

__all__ = ["CHECKPOINT", "MANIFEST", "MEMBRANES", "SCENARIO", "THERMO", "TOPOLOGY", "TRAJECTORY", "Run",
           "checkpoint_steps", "load_compartments", "load_thermo", "load_trajectory"]
