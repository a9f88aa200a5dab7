"""Report of a vesicle: head radius, midplane radius and asphericity per frame."""
from __future__ import annotations

from exomembrane import analysis
from exomembrane.run.report import Part, RunData, mean_std, report

LABELS = {"radius": "vesicle head radius (sigma)", "midplane_radius": "vesicle midplane radius (sigma)",
          "asphericity": "asphericity"}


@report("vesicle")
def shape(run: RunData) -> Part:
    """Vesicle size and shape (:func:`exomembrane.analysis.vesicle_shape`)."""
    s = analysis.vesicle_shape(run.traj)
    return Part({f"vesicle_{k}": mean_std(s[k][run.late]) for k in LABELS}, {k: s[k] for k in LABELS}, LABELS)
