"""A picture of a membrane cut open from the side: beads in a thin slab, coloured by species, with the
compartments (lumen, cytosol) labelled. Matplotlib only (no display, no notebook needed)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import mdtraj
import numpy as np

from exomembrane.analysis.pbc import box_of, minimum_image
from exomembrane.analysis.selection import lipid_indices


def cross_section(traj: mdtraj.Trajectory, frame: int = -1, *, sides: Mapping[str, str] | None = None,
                  normal: Literal["x", "y"] = "y", centre: np.ndarray | None = None, width: float = 3.0,
                  title: str | None = None, ax: Any = None) -> Any:
    """Side view of the beads within ``width`` (sigma) of a plane through ``centre``.

    Parameters
    ----------
    traj, frame
        Trajectory (nm) and the frame to draw.
    sides
        ``Structure.sides`` (e.g. ``{"lumen": "+z", "cytosol": "-z"}``); the compartments are
        labelled where they lie. None: no labels.
    normal
        The box axis normal to the cut; the picture shows the other lateral axis against z.
    centre
        (3,) nm, a point on the cut and the middle of the picture; default: the lipid head farthest
        into the lumen of a flat patch (the tip of a bud), else the box centre.
    width
        Slab thickness in sigma.
    ax
        A matplotlib Axes to draw on; default a new Figure.

    Returns
    -------
    The matplotlib Figure. Heads (and lipid beads named H...) are drawn dark, tails light; each
    species has its own colour; proteins and cargo are outlined.

    Example
    -------
    >>> fig = cross_section(traj, sides={"lumen": "+z", "cytosol": "-z"}); fig.savefig("bud.png")
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    xyz = traj.xyz[frame].astype(np.float64)
    box = box_of(traj)[frame]
    top = traj.topology
    heads, _ = lipid_indices(top)
    res = np.fromiter((a.residue.index for a in top.atoms), np.int64, top.n_atoms)
    names = np.array([a.name for a in top.atoms])
    resname = np.array([a.residue.name for a in top.atoms])
    is_lipid = np.isin(res, res[heads])
    lumen = (sides or {}).get("lumen")
    if centre is None:
        if lumen in ("+z", "-z") and heads.size:
            sign = 1.0 if lumen == "+z" else -1.0
            z = minimum_image(xyz[heads, 2] - np.median(xyz[heads, 2]), box[2]) * sign
            centre = xyz[heads[np.argmax(z)]]
        else:
            centre = box / 2
    k = 0 if normal == "x" else 1
    other = 1 - k
    d = minimum_image(xyz - centre, box)
    sel = np.abs(d[:, k]) <= width / 2
    u = d[sel, other] + box[other] / 2
    z = d[sel, 2] + box[2] / 2 if lumen in ("inside", "outside") else np.mod(xyz[sel, 2], box[2])
    if ax is None:
        fig = Figure(figsize=(7, max(3.0, 7 * box[2] / box[other])))
        ax = fig.subplots()
    else:
        fig = ax.figure
    palette = np.array(colormaps["tab10"](np.arange(10)))[:, :3]
    head = np.char.startswith(names[sel].astype(str), "H")
    for n, sp in enumerate(dict.fromkeys(resname.tolist())):
        color = palette[n % len(palette)]
        mine = resname[sel] == sp
        if not mine.any():
            continue
        if is_lipid[sel][mine].any():  # lipids: light tails under dark heads
            ax.scatter(u[mine & ~head], z[mine & ~head], s=14, color=0.45 * color + 0.55, linewidths=0)
            ax.scatter(u[mine & head], z[mine & head], s=18, color=color, linewidths=0, label=sp)
        else:  # proteins and cargo: outlined
            ax.scatter(u[mine], z[mine], s=22, color=color, edgecolors="black", linewidths=0.5, label=sp)
    ax.set_xlim(0, box[other])
    ax.set_ylim(0, box[2])
    ax.set_aspect("equal")
    ax.set_xlabel(f"{'yx'[k]} (sigma)")
    ax.set_ylabel("z (sigma)")
    label = dict(fontsize=12, fontweight="bold", ha="center", alpha=0.8)
    if lumen in ("+z", "-z"):
        top, bottom = ("MVB lumen", "cytosol") if lumen == "+z" else ("cytosol", "MVB lumen")
        ax.text(box[other] / 2, box[2] * 0.95, top, va="top", color="#1f5fa8", **label)
        ax.text(box[other] / 2, box[2] * 0.05, bottom, va="bottom", color="#a8431f", **label)
    elif lumen in ("inside", "outside"):
        inner, outer = ("MVB lumen", "cytosol") if lumen == "inside" else ("cytosol", "lumen")
        ax.text(box[other] / 2, box[2] / 2, inner, va="center", color="#1f5fa8", **label)
        ax.text(box[other] * 0.05, box[2] * 0.95, outer, va="top", color="#a8431f", **{**label, "ha": "left"})
    ax.legend(loc="upper right", fontsize="small", markerscale=1.5, framealpha=0.8)
    ax.set_title(title or f"cut through {'xy'[k]} = {centre[k]:.1f} sigma, t = {traj.time[frame]:.0f} tau")
    fig.tight_layout()
    return fig
