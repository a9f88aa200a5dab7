"""Inline 3D views of coarse-grained systems with nglview.

Beads go to NGL as a MOL2 structure (whitespace-separated, so serial numbers, residue numbers
and names are never truncated: no 100 000-bead limit, unlike mdtraj's PDB path) and frames as
raw coordinates (Å), sent one at a time when the player asks for them. Molecules are made whole
across the periodic box before a frame is sent, so bonds never stretch across the box.

Lipids (residues whose first bead is the head ``H``) are drawn in their species colour, heads
full and tails tinted, with thin grey bonds; proteins, cargo and polymers (every other residue)
in their species colour, untinted, with their bonds (FENE, harmonic, elastic network) as sticks
in a darker shade of it.
"""
from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import ipywidgets
import mdtraj
import nglview
import numpy as np
import openmm.app as app
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from exomembrane.analysis.pbc import minimum_image
from exomembrane.analysis.selection import LIPID_HEAD
from exomembrane.model.forcefield import ForceField, load_forcefield
from exomembrane.model.structure import Structure
from exomembrane.run.directory import TRAJECTORY, load_trajectory

ANGSTROM = 10.0  # NGL length unit per nm (= sigma)
#: Species colours, in order of first appearance in a system (heads; tails are a lighter tint).
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
           "#CCB974", "#64B5CD")
TAIL_TINT = 0.55  # fraction of white mixed into a species colour for its tail beads
STICK_SHADE = 0.35  # fraction of black mixed into a protein/cargo colour for its bonds
STICK_RADIUS = 1.5  # Å, lipid bonds
MOLECULE_STICK_RADIUS = 2.0  # Å, bonds of proteins, cargo and polymers
LABEL_SIZE = 0.12  # side labels: text height as a fraction of the box's largest edge
BOX_RADIUS = 0.8  # Å, unit-cell edges


@dataclass(frozen=True)
class Beads:
    """Per-bead topology: what NGL needs to draw and select beads.

    Attributes
    ----------
    names, resnames
        (n_beads,) str, bead names and residue (species) names.
    resids
        (n_beads,) int, 1-based molecule number of each bead.
    bonds
        (n_bonds, 2) int, bonded bead pairs (drawn as sticks).
    """

    names: np.ndarray
    resnames: np.ndarray
    resids: np.ndarray
    bonds: np.ndarray

    @classmethod
    def from_structure(cls, structure: Structure) -> Beads:
        resnames = np.asarray(structure.species)[structure.bead_species()]
        return cls(structure.bead_names(), resnames, structure.bead_molecule() + 1, structure.bonds())

    @classmethod
    def from_topology(cls, topology: mdtraj.Topology) -> Beads:
        atoms = list(topology.atoms)
        bonds = np.array([[a.index, b.index] for a, b in topology.bonds], dtype=np.int64).reshape(-1, 2)
        return cls(np.array([a.name for a in atoms]), np.array([a.residue.name for a in atoms]),
                   np.array([a.residue.index + 1 for a in atoms]), bonds)

    def lipid_species(self) -> set[str]:
        """Residue names of lipids: residues whose first bead is named ``H`` (as analysis selects them)."""
        first = np.r_[True, self.resids[1:] != self.resids[:-1]] if len(self.resids) else np.zeros(0, bool)
        return set(self.resnames[first & (self.names == LIPID_HEAD)].tolist())

    def to_mol2(self, xyz: np.ndarray) -> str:
        """MOL2 text of the beads at ``xyz`` ((n_beads, 3) Å)."""
        n = len(self.names)
        atoms = "\n".join(f"{i} {nm} {x:.3f} {y:.3f} {z:.3f} Du {r} {rn}" for i, (nm, (x, y, z), r, rn)
                          in enumerate(zip(self.names.tolist(), xyz.tolist(), self.resids.tolist(),
                                           self.resnames.tolist()), start=1))
        bonds = "\n".join(f"{k} {i} {j} 1" for k, (i, j) in enumerate((self.bonds + 1).tolist(), start=1))
        return (f"@<TRIPOS>MOLECULE\nexomembrane\n{n} {len(self.bonds)} {int(self.resids.max(initial=0))} 0 0\n"
                f"SMALL\nNO_CHARGES\n\n@<TRIPOS>ATOM\n{atoms}\n@<TRIPOS>BOND\n{bonds}\n")


def _whole_levels(n: int, bonds: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Breadth-first levels of the bond graph: [(children, parents), ...] from each molecule's first bead."""
    graph = coo_matrix((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(n, n)).tocsr()
    graph = (graph + graph.T).tocsr()
    _, labels = connected_components(graph, directed=False)
    _, roots = np.unique(labels, return_index=True)
    seen = np.zeros(n, bool)
    seen[roots] = True
    frontier, levels = roots, []
    while frontier.size:
        rows = graph[frontier]
        parents = np.repeat(frontier, np.diff(rows.indptr))
        children = rows.indices
        new = ~seen[children]
        children, first = np.unique(children[new], return_index=True)
        parents = parents[new][first]
        seen[children] = True
        if children.size:
            levels.append((children, parents))
        frontier = children
    return levels


class BeadTrajectory(nglview.Trajectory, nglview.Structure):
    """nglview adaptor: :class:`Beads` as MOL2 plus frames made whole across the box.

    Parameters
    ----------
    beads
        Topology of the beads.
    frames
        Positions, each (n_beads, 3) nm; orthorhombic ``boxes``, each (3,) nm.
    history
        Keep at most this many frames when frames are appended (live runs); None keeps all.

    Add it to any :class:`nglview.NGLWidget` (``view.add_trajectory(traj)``), or use :func:`show`.
    """

    def __init__(self, beads: Beads, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
                 history: int | None = None) -> None:
        nglview.Trajectory.__init__(self)
        nglview.Structure.__init__(self)
        self.ext = "mol2"
        self.beads = beads
        self.history = history
        self.frames: list[np.ndarray] = []
        self.boxes: list[np.ndarray] = []
        self._levels = _whole_levels(len(beads.names), beads.bonds)
        for xyz, box in zip(frames, boxes):
            self.append(xyz, box)

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    def append(self, xyz: np.ndarray, box: np.ndarray) -> None:
        """Add a frame: ``xyz`` (n_beads, 3) nm, ``box`` (3,) nm; drops the oldest beyond ``history``."""
        self.frames.append(xyz)
        self.boxes.append(np.asarray(box, dtype=float))
        if self.history is not None and len(self.frames) > self.history:
            del self.frames[0], self.boxes[0]

    def get_coordinates(self, index: int) -> np.ndarray:
        """(n_beads, 3) float32 Å of frame ``index``, each molecule whole (minimum image along its bonds)."""
        xyz = np.array(self.frames[index], dtype=np.float64)
        box = self.boxes[index]
        for children, parents in self._levels:
            d = xyz[children] - xyz[parents]
            xyz[children] = xyz[parents] + minimum_image(d, box)
        return (xyz * ANGSTROM).astype(np.float32)

    def get_structure_string(self) -> str:
        return self.beads.to_mol2(self.get_coordinates(0))


def load(obj: mdtraj.Trajectory | app.Simulation | Structure | str | os.PathLike[str], *,
         stride: int | None = None, max_frames: int = 500) -> BeadTrajectory:
    """Frames of ``obj`` for viewing.

    Parameters
    ----------
    obj
        An :class:`mdtraj.Trajectory`, an OpenMM Simulation (its current state), a
        :class:`~exomembrane.Structure`, or a run directory (its trajectory).
    stride
        Keep every ``stride``-th frame; default: the smallest stride giving at most ``max_frames``.
    """
    if isinstance(obj, BeadTrajectory):
        return obj
    if isinstance(obj, Structure):
        return BeadTrajectory(Beads.from_structure(obj), [obj.positions], [obj.box])
    if isinstance(obj, app.Simulation):
        state = obj.context.getState(getPositions=True, enforcePeriodicBox=True)
        box = np.diag(state.getPeriodicBoxVectors(asNumpy=True)._value)
        structure = getattr(obj, "structure", None)
        beads = (Beads.from_structure(structure) if isinstance(structure, Structure)
                 else Beads.from_topology(mdtraj.Topology.from_openmm(obj.topology)))
        return BeadTrajectory(beads, [state.getPositions(asNumpy=True)._value], [box])
    if isinstance(obj, (str, os.PathLike)):
        with mdtraj.formats.XTCTrajectoryFile(str(Path(obj) / TRAJECTORY)) as f:
            n_frames = len(f)
        obj, stride = load_trajectory(os.fspath(obj), stride=stride or _stride(n_frames, max_frames)), 1
    if isinstance(obj, mdtraj.Trajectory):
        if obj.unitcell_lengths is None:
            raise ValueError("trajectory has no unit cell; exomembrane views need the periodic box")
        stride = stride or _stride(obj.n_frames, max_frames)
        return BeadTrajectory(Beads.from_topology(obj.topology), obj.xyz[::stride], obj.unitcell_lengths[::stride])
    raise TypeError(f"show/load: cannot view a {type(obj).__name__}; give an mdtraj.Trajectory, an OpenMM "
                    f"Simulation, an exomembrane Structure or a run directory")


def _stride(n_frames: int, max_frames: int) -> int:
    return max(1, -(-n_frames // max_frames))


def species_colors(resnames: Sequence[str], colors: Mapping[str, str] | None = None) -> dict[str, str]:
    """Colour (hex) of each species, ``colors`` first, then :data:`PALETTE` in order of appearance."""
    out = dict(colors or {})
    for name in dict.fromkeys(resnames):
        out.setdefault(name, PALETTE[len(out) % len(PALETTE)])
    return out


def tint(color: str, amount: float = TAIL_TINT) -> str:
    """``color`` (hex) mixed with ``amount`` of white."""
    rgb = np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)])
    return "#" + "".join(f"{int(round(c + (255 - c) * amount)):02X}" for c in rgb)


def shade(color: str, amount: float = STICK_SHADE) -> str:
    """``color`` (hex) mixed with ``amount`` of black."""
    rgb = np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)])
    return "#" + "".join(f"{int(round(c * (1 - amount))):02X}" for c in rgb)


def species_kinds(beads: Beads, forcefield: ForceField) -> dict[str, str]:
    """Kind of each species in ``beads`` (in order of appearance): the species file's ``kind``
    ("lipid", "protein", "cargo", "polymer"), else "lipid" for residues starting with a head
    bead ``H`` and "molecule" for others."""
    lipids = beads.lipid_species()
    out: dict[str, str] = {}
    for name in dict.fromkeys(beads.resnames.tolist()):
        species = forcefield.species.get(name)
        out[name] = species.kind if species is not None else "lipid" if name in lipids else "molecule"
    return out


def _bead_style(beads: Beads, forcefield: ForceField,
                kinds: Mapping[str, str]) -> list[tuple[str, tuple[str, ...], bool, float]]:
    """(residue name, bead names, is_head, size sigma) of each group of beads drawn alike.

    Lipids: one group per bead name. Other molecules: one group per bead size (all beads of a
    species in its colour).
    """
    groups: dict[tuple[str, str | float], tuple[str, list[str], bool, float]] = {}
    for rn, nm in dict.fromkeys(zip(beads.resnames.tolist(), beads.names.tolist())):
        species = forcefield.species.get(rn)
        if species is not None and nm in (names := [b.name for b in species.beads]):
            _, head, size, _ = forcefield.bead_table(rn)
            k = names.index(nm)
            is_head, radius = bool(head[k]), float(size[k])
        else:
            is_head, radius = nm.upper().startswith("H"), 1.0
        if kinds[rn] == "lipid":
            groups[(rn, nm)] = (rn, [nm], is_head, radius)
        else:
            groups.setdefault((rn, radius), (rn, [], False, radius))[1].append(nm)
    return [(rn, tuple(names), head, size) for rn, names, head, size in groups.values()]


def _selection(resname: str, names: Sequence[str], whole: bool) -> str:
    """NGL selection of the beads ``names`` of residues ``resname``; ``whole``: they are all its beads."""
    if whole:
        return f"[{resname}]"
    if len(names) == 1:
        return f"[{resname}] and .{names[0]}"
    return f"[{resname}] and ({' or '.join(f'.{n}' for n in names)})"


def legend(colors: Mapping[str, str], kinds: Mapping[str, str] | None = None) -> ipywidgets.HTML:
    """A colour key: one row per species, lipids with their head and tail colours, other
    molecules (``kinds`` not "lipid"; default: all are lipids) with their colour and kind."""
    def swatch(c: str) -> str:
        return (f'<span style="display:inline-block;width:12px;height:12px;border-radius:6px;'
                f'background:{c};margin:0 3px;vertical-align:middle"></span>')
    rows = []
    for name, c in colors.items():
        kind = (kinds or {}).get(name, "lipid")
        key = (f"{swatch(c)}head{swatch(tint(c))}tails" if kind == "lipid"
               else f'{swatch(c)}<span style="color:#666">{html.escape(kind)}</span>')
        rows.append(f'<span style="margin-right:14px">{key} <b>{html.escape(name)}</b></span>')
    return ipywidgets.HTML(f'<div style="font-size:12px">{"".join(rows)}</div>')


def show(obj: BeadTrajectory | mdtraj.Trajectory | app.Simulation | Structure | str | os.PathLike[str], *,
         stride: int | None = None, max_frames: int = 500, scale: float = 1.0, bonds: bool = True,
         cutaway: float = 0.0, side: bool = True, unitcell: bool = True,
         colors: Mapping[str, str] | None = None, forcefield: ForceField | None = None,
         background: str = "white", sides: Mapping[str, str] | None = None) -> nglview.NGLWidget:
    """An nglview widget of a coarse-grained system.

    Parameters
    ----------
    obj
        What to view; see :func:`load`. A :class:`BeadTrajectory` is used as is.
    stride, max_frames
        Subsampling of long trajectories (see :func:`load`).
    scale
        Bead radius as a fraction of the bead's size from the force field (1 sigma = 10 Å, so a
        standard bead of size 1 sigma has radius 5 Å at ``scale=1``).
    bonds
        Draw bonds as sticks: thin grey ones (radius 1.5 Å) for lipids, thicker ones (2 Å) in a
        darker shade of the species colour for proteins, cargo and polymers.
    cutaway
        Clip this percentage of the scene from the front (50: cut at the centre, to see inside a
        vesicle); 0 shows everything.
    side
        Orthographic side view (box z axis up), otherwise NGL's view down z.
    unitcell
        Draw the edges of the first frame's periodic box.
    colors
        Species (residue name) -> hex colour: a lipid's heads (its tails get a lighter tint), or
        every bead of a protein, cargo or polymer.
    forcefield
        Source of the bead sizes and species kinds; default: the standard one.
    sides
        Compartments to label in the view, e.g. ``Structure.sides`` (``{"lumen": "+z", "cytosol":
        "-z"}``; see :func:`label_sides`); None: no labels.

    Returns
    -------
    nglview.NGLWidget
        With attribute ``legend``, an :class:`ipywidgets.HTML` colour key
        (``display(view, view.legend)``).

    Example
    -------
    >>> import exomembrane as em
    >>> from exomembrane.notebook.view import show
    >>> view = show(em.builders.vesicle(em.load_forcefield(), 8.0), cutaway=50)
    """
    traj = load(obj, stride=stride, max_frames=max_frames)
    forcefield = forcefield or load_forcefield()
    beads = traj.beads
    palette = species_colors(beads.resnames.tolist(), colors)
    kinds = species_kinds(beads, forcefield)
    n_names = {rn: len(set(beads.names[beads.resnames == rn].tolist())) for rn in kinds}
    view = nglview.NGLWidget(traj, default_representation=False)
    for resname, names, head, size in _bead_style(beads, forcefield, kinds):
        lipid = kinds[resname] == "lipid"
        color = palette[resname] if head or not lipid else tint(palette[resname])
        whole = not lipid and len(names) == n_names[resname]
        view.add_representation("spacefill", selection=_selection(resname, names, whole),
                                color=color, radiusType="size", radiusSize=0.5 * size * ANGSTROM * scale,
                                interiorColor=color, diffuseInterior=True)  # cut beads: lit, own colour
    if bonds and len(beads.bonds):
        bonded = set(beads.resnames[beads.bonds[:, 0]].tolist())
        lipids = [rn for rn, kind in kinds.items() if kind == "lipid" and rn in bonded]
        if lipids:
            view.add_representation("licorice", selection=" or ".join(f"[{rn}]" for rn in lipids), color="#777777",
                                    radiusType="size", radiusSize=STICK_RADIUS)
        for rn in (rn for rn, kind in kinds.items() if kind != "lipid" and rn in bonded):
            view.add_representation("licorice", selection=f"[{rn}]", color=shade(palette[rn]), radiusType="size",
                                    radiusSize=MOLECULE_STICK_RADIUS)
    if unitcell:
        _add_box(view, traj.boxes[0] * ANGSTROM)
    if sides:
        centre = np.median(traj.frames[0], axis=0)  # nm; a patch's midplane, a vesicle's centre
        label_sides(view, sides, traj.boxes[0], centre)
    view.camera = "orthographic"
    view.background = background
    view.center()
    if sides:
        view.control.center((centre * ANGSTROM).tolist())  # the membrane, not the beads' box, in the middle
    if side:
        view.control.rotate([-np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)])  # -90 deg about x: z up
    if cutaway:
        view.parameters = {"clipNear": float(cutaway), "clipMode": "scene", "clipScale": "relative"}
    view.legend = legend({k: palette[k] for k in kinds}, kinds)
    return view


def label_sides(view: nglview.NGLWidget, sides: Mapping[str, str], box: np.ndarray,
                centre: np.ndarray | None = None, color: Sequence[float] = (0.1, 0.1, 0.1)) -> None:
    """Write the compartments' names into ``view`` as text, on their side of the membrane.

    The labels are placed for :func:`show`'s side view (z up, x to the left, +y towards the
    viewer): near the left edge of the box, a little behind the middle so that ``cutaway=50``
    keeps them.

    Parameters
    ----------
    sides
        Compartment -> side, as ``Structure.sides`` and a run's ``manifest.json`` record them:
        ``"+z"`` / ``"-z"`` (above / below a flat patch), ``"inside"`` (at the centre of a closed
        membrane) or ``"outside"`` (above it).
    box
        (3,) box lengths (nm) of the frame shown.
    centre
        (3,) nm, the membrane's centre (a patch's midplane height is ``centre[2]``); default: the
        box centre.
    color
        RGB (0-1) of the text.

    Example
    -------
    >>> view = show(structure, cutaway=50)
    >>> label_sides(view, structure.sides, structure.box, structure.positions.mean(axis=0))
    """
    lengths = np.asarray(box, float) * ANGSTROM
    mid = (0.5 * lengths if centre is None else np.asarray(centre, float) * ANGSTROM)[2]
    size = LABEL_SIZE * float(lengths.max())
    gap = 0.2 * lengths[2]  # from the midplane (or centre) to the label
    height = {"+z": mid + gap, "-z": mid - gap - size, "inside": mid, "outside": mid + 1.5 * gap}
    for name, where in sides.items():
        if where not in height:
            raise ValueError(f"sides.{name}: {where!r} is not a side; allowed: {sorted(height)}")
        x = (0.6 if where == "inside" else 0.96) * lengths[0]  # text runs towards -x (screen right)
        view.shape.add_text([x, 0.47 * lengths[1], float(np.clip(height[where], 0.0, lengths[2] - size))],
                            list(color), size, f"{name} ({where})")


def _add_box(view: nglview.NGLWidget, lengths: np.ndarray) -> None:
    """Draw the 12 edges of the box [0, lengths] (Å) as thin cylinders."""
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float) * lengths
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
    p1 = corners[[a for a, _ in edges]].ravel().tolist()
    p2 = corners[[b for _, b in edges]].ravel().tolist()
    view.shape.add_buffer("cylinder", position1=p1, position2=p2, color=[0.3, 0.3, 0.3] * len(edges),
                          color2=[0.3, 0.3, 0.3] * len(edges), radius=[BOX_RADIUS] * len(edges))
