"""Shape of a vesicle: radius, leaflet radii and asphericity, periodic-safe."""
from __future__ import annotations

import mdtraj
import numpy as np

from .pbc import box_of, minimum_image, periodic_centre
from .selection import lipid_geometry, lipid_indices


def vesicle_shape(traj: mdtraj.Trajectory, lipids: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Centre, radii and asphericity of a vesicle, per frame.

    The centre is the centroid of the lipids' centres (their centre of mass for lipids of equal
    size), found periodically (circular mean, then the mean of minimum images around it), so a
    vesicle across the box boundary is fine as long as it is smaller than the box. Radii are
    head-bead distances from that centre. A lipid is in the outer leaflet when its orientation
    (tail centroid -> head) points away from the centre.

    Parameters
    ----------
    traj
        Trajectory, nm.
    lipids
        Lipid indices (as in :func:`lipid_indices`) or (n_lipids,) bool mask of the vesicle's lipids,
        e.g. ``membrane_clusters(traj)[0] == 0``; default all lipids.

    Returns
    -------
    dict of arrays:
        ``centre`` (n_frames, 3) nm, inside the box;
        ``radius`` (n_frames,) nm, mean head distance over all lipids (lipid-count weighted, so
        above the midplane radius R: for a Cooke vesicle about R + 2.4 (N_out - N_in) / N);
        ``outer_radius``, ``inner_radius`` (n_frames,) nm, mean head distance per leaflet
        (about R +- 2.4 sigma, the head offset of a straight lipid from the midplane);
        ``midplane_radius`` (n_frames,) nm, their mean, about R;
        ``radius_of_gyration`` (n_frames,) nm, of the head beads;
        ``asphericity`` (n_frames,) dimensionless, ``(3/2) tr(S^2)/tr(S)^2 - 1/2`` of the head
        gyration tensor S: 0 for a sphere, 1/4 for a disc-like, 1 for a rod-like shape.

    Example
    -------
    >>> shape = vesicle_shape(traj); shape["radius"], shape["asphericity"]
    """
    heads, tails = lipid_indices(traj.topology)
    if lipids is not None:
        sel = np.asarray(lipids)
        sel = np.flatnonzero(sel) if sel.dtype == bool else sel
        heads, tails = heads[sel], tails[sel]
    box = box_of(traj)
    n_f = traj.n_frames
    keys = ("radius", "outer_radius", "inner_radius", "midplane_radius", "radius_of_gyration", "asphericity")
    out = {k: np.empty(n_f) for k in keys}
    out["centre"] = np.empty((n_f, 3))
    chunk = max(1, 2_000_000 // max(heads.size, 1))
    for f0 in range(0, n_f, chunk):
        fr = slice(f0, f0 + chunk)
        com, orient = lipid_geometry(traj, heads, tails, fr)
        for k in range(len(com)):
            f = f0 + k
            centre = periodic_centre(com[k], box[f])[0]
            d = minimum_image(traj.xyz[f, heads] - centre, box[f])
            r = np.linalg.norm(d, axis=1)
            outer = np.einsum("ij,ij->i", d, orient[k]) > 0
            gyr = d - d.mean(0)
            lam = np.linalg.eigvalsh(gyr.T @ gyr / len(d))
            out["centre"][f] = np.mod(centre, box[f])
            out["radius"][f] = r.mean()
            out["outer_radius"][f] = r[outer].mean() if outer.any() else np.nan
            out["inner_radius"][f] = r[~outer].mean() if (~outer).any() else np.nan
            out["radius_of_gyration"][f] = np.sqrt(lam.sum())
            out["asphericity"][f] = 1.5 * (lam**2).sum() / lam.sum() ** 2 - 0.5
    out["midplane_radius"] = (out["outer_radius"] + out["inner_radius"]) / 2
    return out


def vesicle_radius(traj: mdtraj.Trajectory, lipids: np.ndarray | None = None) -> np.ndarray:
    """(n_frames,) nm: mean distance of the head beads from the vesicle's centre of mass.

    Shortcut for ``vesicle_shape(traj, lipids)["radius"]``; see :func:`vesicle_shape`.

    Example
    -------
    >>> vesicle_radius(traj).mean()
    """
    return vesicle_shape(traj, lipids)["radius"]
