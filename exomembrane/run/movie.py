"""A movie of a run cut open from the side: the cross-section of :mod:`.section` in every frame, over
the free space coloured by compartment, membranes named, time stamped, through one fixed slab that
passes through the event (the largest pore, else the separated vesicle, else the tip of a bud).

GIF through Pillow (matplotlib's own dependency); MP4 where ffmpeg is installed.

Example
-------
>>> from exomembrane.run.movie import movie
>>> movie("runs/demo")                      # runs/demo/analysis/section.gif
"""
from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import mdtraj
import numpy as np

from exomembrane import analysis
from exomembrane.analysis.pbc import box_of, minimum_image, periodic_centre
from exomembrane.analysis.topology import compartment_grid
from exomembrane.run.directory import load_compartments, load_trajectory
from exomembrane.run.section import cross_section

#: Background colours of compartments, in the order the run names them (then repeated).
COLOURS = ("#dbe9f6", "#fbe3d6", "#e2f0d9", "#eadcf2", "#fff2cc", "#d9d9d9")
MOVIE = "section.gif"


def event_centre(traj: mdtraj.Trajectory, topo: analysis.Topology | None, last: int = -1) -> np.ndarray | None:
    """(3,) nm: a point of the event to cut through: the largest pore, else the centre of the
    smallest membrane in the last frame of ``traj`` (frame ``last`` of ``topo``: a separated
    vesicle); None if neither exists."""
    if topo is not None and topo.pores:
        return max(topo.pores, key=lambda p: p.radius).centre
    if topo is not None and topo.n_membranes[last] >= 2:
        labels = topo.membranes[last]
        sizes = np.bincount(labels[labels >= 0])
        heads, _ = analysis.lipid_indices(traj.topology)
        small = heads[labels == int(np.argmin(sizes))]
        return np.mod(periodic_centre(traj.xyz[-1, small].astype(float), box_of(traj)[-1])[0], box_of(traj)[-1])
    return None


def movie(directory: str | Path, out: str | Path | None = None, *, fps: int = 8, max_frames: int = 150,
          normal: Literal["x", "y"] = "y", width: float = 3.0, topo: analysis.Topology | None = None) -> Path:
    """Write the movie of a run directory (default ``DIR/analysis/section.gif``; ``.mp4`` needs ffmpeg).

    Parameters
    ----------
    directory
        The run directory.
    out
        The file to write (``.gif`` or ``.mp4``).
    fps
        Frames per second of the movie.
    max_frames
        At most this many trajectory frames, evenly spaced.
    normal, width
        The cut: the box axis normal to it and the slab thickness (sigma), as :func:`cross_section`.
    topo
        The run's :func:`~exomembrane.analysis.topology` of every frame, if already computed (to find
        the event and name the membranes).

    Returns
    -------
    The path written.
    """
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    directory = Path(directory)
    out = Path(out) if out is not None else directory / "analysis" / MOVIE
    if out.suffix not in (".gif", ".mp4"):
        raise ValueError(f"out: {out} must end in .gif or .mp4")
    if out.suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise ValueError(f"out: {out}: an MP4 needs ffmpeg on the PATH; write a .gif instead")
    if not fps >= 1 or not max_frames >= 1:
        raise ValueError(f"fps, max_frames: must be >= 1 (got {fps}, {max_frames})")
    traj = load_trajectory(directory)
    stride = max(1, -(-traj.n_frames // max_frames))
    shown = np.arange(0, traj.n_frames, stride)  # the frames drawn, as indices of the whole run (and of topo)
    traj = traj[::stride]
    membranes, membrane, leaflet = load_compartments(directory)
    lipid = analysis.selection.lipid_residues(traj.topology)
    faces = [m.faces for m in membranes]
    sides = {c: f for f, c in membranes[0].faces.items()} if len(membranes) == 1 else None
    if faces and topo is None:
        topo = analysis.topology(traj, faces, membrane[lipid], leaflet[lipid])
        shown = np.arange(traj.n_frames)
    centre = event_centre(traj, topo, int(shown[-1]))
    box = box_of(traj)
    other = 0 if normal == "y" else 1
    fig = Figure(figsize=(7, max(3.5, 7 * box[0, 2] / box[0, other])))
    ax = fig.subplots()
    names = [m.name for m in membranes]

    def draw(f: int) -> Sequence[Any]:
        ax.clear()
        draw_frame(ax, traj, f, faces, membrane[lipid], leaflet[lipid], topo, int(shown[f]), names, centre,
                   normal=normal, width=width, sides=sides, title=f"{directory.name}: t = {traj.time[f]:.0f} tau")
        return []

    anim = FuncAnimation(fig, draw, frames=traj.n_frames, blit=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = PillowWriter(fps=fps) if out.suffix == ".gif" else FFMpegWriter(fps=fps)
    anim.save(str(out), writer=writer, dpi=80)
    return out


def draw_frame(ax: Any, traj: mdtraj.Trajectory, f: int, faces: Sequence[Mapping[str, str]], membrane: np.ndarray,
               leaflet: np.ndarray, topo: analysis.Topology | None, t: int, names: Sequence[str],
               centre: np.ndarray | None, *, normal: Literal["x", "y"] = "y", width: float = 3.0,
               sides: Mapping[str, str] | None = None, title: str | None = None) -> None:
    """Draw frame ``f`` of ``traj`` cut open on ``ax``: the free space coloured by compartment (from
    the membranes' ``faces``, per-lipid ``membrane`` and ``leaflet`` as built), the beads of the
    slab, and each membrane named (frame ``t`` of ``topo``; its built ``names``)."""
    flat = any("+z" in fc for fc in faces)
    if faces:
        grid, compartments = compartment_grid(traj, f, faces, membrane, leaflet)
        _background(ax, grid, compartments, box_of(traj)[f], centre, normal, flat)
    cross_section(traj, f, sides=sides, normal=normal, centre=centre, width=width, ax=ax, title=title)
    if topo is not None:
        _name_membranes(ax, traj, f, topo, t, names, membrane, centre, normal, width, flat)


def _background(ax: Any, grid: np.ndarray, names: tuple[str, ...], box: np.ndarray, centre: np.ndarray | None,
                normal: str, flat: bool) -> None:
    """Colour the free space of the slab's middle plane by compartment, with a legend entry each."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    k, other = (1, 0) if normal == "y" else (0, 1)
    c = box / 2 if centre is None else centre
    n = np.array(grid.shape)
    index = int(np.mod(c[k], box[k]) / box[k] * n[k]) % n[k]
    plane = np.take(grid, index, axis=k)  # (n_other, nz)
    shift = int(round((box[other] / 2 - c[other]) / box[other] * n[other]))
    plane = np.roll(plane, shift, axis=0)  # the cut is drawn centred on ``centre``, as cross_section does
    if not flat:  # a closed membrane's picture is centred in z too
        plane = np.roll(plane, int(round((box[2] / 2 - c[2]) / box[2] * n[2])), axis=1)
    colours = [COLOURS[i % len(COLOURS)] for i in range(len(names))]
    image = np.ma.masked_less(plane.T.astype(float), 0)
    ax.imshow(image, origin="lower", extent=(0, box[other], 0, box[2]), cmap=ListedColormap(colours),
              vmin=-0.5, vmax=len(names) - 0.5, interpolation="nearest", zorder=0)
    ax.legend(handles=[Patch(color=col, label=name) for col, name in zip(colours, names)], loc="lower right",
              fontsize="small", title="compartments", title_fontsize="small", framealpha=0.8)
    ax.add_artist(ax.get_legend())


def _name_membranes(ax: Any, traj: mdtraj.Trajectory, f: int, topo: analysis.Topology, t: int, names: Sequence[str],
                    membrane: np.ndarray, centre: np.ndarray | None, normal: str, width: float, flat: bool) -> None:
    """Write each membrane's name (the built membrane most of its lipids come from; ``vesicle`` for a
    smaller piece split off one) beside its lipids in the slab of frame ``f`` (frame ``t`` of ``topo``)."""
    heads, _ = analysis.lipid_indices(traj.topology)
    box = box_of(traj)[f]
    c = box / 2 if centre is None else centre
    k, other = (1, 0) if normal == "y" else (0, 1)
    labels = topo.membranes[t]
    sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
    owns = []  # the built membrane most of each cluster's lipids come from (-1: none)
    for cl in range(len(sizes)):
        built = membrane[labels == cl]
        owns.append(int(np.bincount(built[built >= 0]).argmax()) if (built >= 0).any() else -1)
    for cl, own in enumerate(owns):
        mine = labels == cl
        d = minimum_image(traj.xyz[f, heads[mine]].astype(float) - c, box)
        near = np.abs(d[:, k]) <= width / 2
        if not near.any():
            continue
        largest = sizes[cl] == max(sizes[j] for j, o in enumerate(owns) if o == own)
        name = "membrane" if own < 0 else names[own] if largest else "vesicle"  # a piece split off: a vesicle
        if topo.open[t, cl]:  # open has a column for every cluster of any frame
            name += " (open)"
        u = d[near, other] + box[other] / 2
        z = np.mod(traj.xyz[f, heads[mine][near], 2], box[2]) if flat else d[near, 2] + box[2] / 2
        ax.text(float(u.max()), float(z.max()) + 1.0, name, fontsize=9, ha="right", va="bottom", color="black",
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.7, "lw": 0})
