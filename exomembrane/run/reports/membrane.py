"""Report of flat membranes and self-assembly: lipid order; for bilayers also area per lipid,
bending rigidity and lateral diffusion."""
from __future__ import annotations

from exomembrane import analysis
from exomembrane.run.report import Part, RunData, estimate, mean_std, report


@report("bilayer", "gas")
def order(run: RunData) -> Part:
    """Nematic lipid order S per frame (a sheet: near 1; self-assembly raises it from ~0)."""
    s = analysis.lipid_order(run.traj)[0]
    return Part({"lipid_order_S": mean_std(s[run.late])}, {"lipid_order": s}, {"lipid_order": "lipid nematic order S"})


@report("bilayer")
def flat(run: RunData) -> Part:
    """Area per lipid (sigma^2) per frame; bending rigidity (kT) and diffusion (sigma^2/tau) of the second half."""
    apl = analysis.area_per_lipid(run.traj)
    late = run.traj[run.late]
    return Part({"area_per_lipid_sigma2": mean_std(apl[run.late]),
                 "bending_rigidity_kT": estimate(analysis.bending_rigidity, late),
                 "diffusion_sigma2_per_tau": estimate(analysis.diffusion_coefficient, late)},
                {"area_per_lipid": apl}, {"area_per_lipid": "area per lipid (sigma^2)"})
