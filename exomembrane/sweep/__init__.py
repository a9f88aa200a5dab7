"""Parameter sweeps and seed ensembles on Dask: the sweep file (:mod:`.spec`), running its points
as tasks (:mod:`.execute`), the results table and plots (:mod:`.table`), the clusters
(:mod:`.cluster`). See :mod:`exomembrane.sweep.execute` for the file format and faults."""
from exomembrane.sweep.execute import run_sweep, run_tasks
from exomembrane.sweep.spec import PLOTS, RESULT, SWEEP, TABLE, Sweep, Task, load_sweep, tasks
from exomembrane.sweep.table import plot_sweep

__all__ = ["PLOTS", "RESULT", "SWEEP", "TABLE", "Sweep", "Task", "load_sweep", "plot_sweep", "run_sweep",
           "run_tasks", "tasks"]
