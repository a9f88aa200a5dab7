"""ESCRT-III-like filaments: chains of bead-triplet subunits whose preferred geometry (radius, tilt,
pitch) and stepwise disassembly are global parameters, so protocols change them inside the integrator.

A subunit is one molecule of a triplet species (``ESC3``: two membrane-binding beads side by side
and one bead above them, held rigid by its own elastic network). Consecutive subunits are joined
by springs between every bead of subunit ``k`` and every bead of ``k + 1``, and between like beads
of ``k`` and ``k + 2`` (bending rigidity). Each spring's rest length is the distance the two beads
have on the preferred helix (Harker-Kirschneck, Baum & Saric, BMC Biol. 17, 82, 2019: geometry set
by the bond lengths between neighbouring triplets, rigidity by their strength):

    bead u = (u_r, u_z) of a subunit (offsets across the filament: u_r along the helix radius,
    u_z from the binding face up), tilted by theta about the filament axis:
        rho_u = R + u_r cos(theta) - u_z sin(theta),   z_u = u_r sin(theta) + u_z cos(theta)
    subunits ``m`` apart along the filament lie dphi = m a / R apart in angle, so
        r0^2 = (rho_i - rho_j)^2 + 4 rho_i rho_j sin^2(dphi / 2) + (z_j - z_i + p dphi / 2 pi)^2

(distances fix a shape only up to its mirror image: at tilt +-90 degrees the triplet is symmetric
under that mirror, so there the pitch's sign, the helix's handedness, is not enforced) with
``R`` = ``filament_radius`` (sigma), ``theta`` = ``filament_tilt`` (degrees: 0 the binding face
lies on the membrane, 90 it faces outwards, away from the helix axis), ``p`` = ``filament_pitch``
(sigma per turn along the binding-face normal, away from the membrane as built; 0 a flat ring) and
``a`` the subunit spacing. Energy of a spring: ``on * k/2 (r - r0)^2``.

Disassembly: global ``disassembly`` in [0, 1]; subunit ``k`` lets go (its springs and its binding
switch off) once ``disassembly`` reaches its threshold ``off_k = (rank_k + 1/2) / n`` (its rank in
the order asked: from the tip, the base, or at random). A protocol ramping ``disassembly`` from 0 to
1 over T tau removes ``n / T`` subunits per tau. The membrane binding is its own force: the binding
beads attract lipid heads with a Cooke-type well of depth ``filament_binding`` (eps) and range
``w`` beyond contact, per live subunit.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

#: Global parameters of a System with filaments, and the values they start from.
RADIUS, TILT, PITCH, BINDING, DISASSEMBLY = (
    "filament_radius", "filament_tilt", "filament_pitch", "filament_binding", "disassembly")
PARAMETERS = (RADIUS, TILT, PITCH, BINDING, DISASSEMBLY)
#: Their allowed ranges (sigma, degrees, sigma per turn, eps, fraction), for builders and live sliders.
LIMITS = {RADIUS: (1.5, 100.0), TILT: (-90.0, 90.0), PITCH: (-30.0, 30.0), BINDING: (0.0, 10.0),
          DISASSEMBLY: (0.0, 1.0)}

#: The spring energy as an OpenMM CustomBondForce expression (per-bond: ar, az, br, bz, arc = m a, k, off).
SPRING = ("step(off - disassembly)*0.5*k*(r - r0)^2;"
          "r0 = sqrt((ri - rj)^2 + 4*ri*rj*sin(0.5*dphi)^2 + (zj - zi + filament_pitch*dphi/6.283185307179586)^2);"
          "dphi = arc/filament_radius;"
          "ri = filament_radius + ar*ct - az*st; zi = ar*st + az*ct;"
          "rj = filament_radius + br*ct - bz*st; zj = br*st + bz*ct;"
          "ct = cos(filament_tilt*0.017453292519943295); st = sin(filament_tilt*0.017453292519943295)")


def rest_lengths(a: np.ndarray, b: np.ndarray, arc: np.ndarray, radius: float, tilt: float,
                 pitch: float) -> np.ndarray:
    """(m,) sigma: rest lengths of springs between cross-section offsets ``a``, ``b`` (m, 2) =
    (u_r, u_z) sigma, ``arc`` (m,) sigma apart along the filament, on the preferred helix."""
    t = np.radians(tilt)
    ri = radius + a[:, 0] * np.cos(t) - a[:, 1] * np.sin(t)
    zi = a[:, 0] * np.sin(t) + a[:, 1] * np.cos(t)
    rj = radius + b[:, 0] * np.cos(t) - b[:, 1] * np.sin(t)
    zj = b[:, 0] * np.sin(t) + b[:, 1] * np.cos(t)
    dphi = arc / radius
    return np.sqrt((ri - rj) ** 2 + 4 * ri * rj * np.sin(dphi / 2) ** 2 + (zj - zi + pitch * dphi / (2 * np.pi)) ** 2)


def helix(n: int, offsets: np.ndarray, spacing: float, radius: float, tilt: float, pitch: float) -> np.ndarray:
    """(n, len(offsets), 3) sigma: ``n`` subunits laid exactly on the preferred helix about the z axis
    (the binding-face normal along +z); every spring of such a filament is at its rest length."""
    t = np.radians(tilt)
    rho = radius + offsets[:, 0] * np.cos(t) - offsets[:, 1] * np.sin(t)
    z = offsets[:, 0] * np.sin(t) + offsets[:, 1] * np.cos(t)
    phi = np.arange(n)[:, None] * spacing / radius
    return np.stack([rho * np.cos(phi), rho * np.sin(phi), z + pitch * phi / (2 * np.pi)], axis=-1)


@dataclass(frozen=True, eq=False)
class Filaments:
    """The springs and membrane-binding beads of one or more filaments.

    Attributes
    ----------
    pairs
        (m, 2) int, bead indices joined by a spring.
    a, b
        (m, 2) float, cross-section offsets (u_r, u_z) sigma of the two beads in their subunits.
    arc
        (m,) float, sigma along the filament between their subunits (``m`` subunits x spacing).
    k
        (m,) float, spring constant (eps/sigma^2).
    off
        (m,) float, ``disassembly`` at which the spring goes (its first subunit to go).
    binding
        (n_b,) int, the membrane-binding beads; ``binding_off`` (n_b,) their thresholds.
    subunits
        (n_s, 3) int, the beads of every subunit, filament by filament from base to tip;
        ``filament`` (n_s,) which filament each belongs to; ``subunit_off`` (n_s,) thresholds.
    w, contact
        Range (sigma) of the binding well beyond ``contact`` (sigma), where the well is flat.
    radius, tilt, pitch, depth
        Starting values of ``filament_radius`` (sigma), ``filament_tilt`` (degrees),
        ``filament_pitch`` (sigma per turn) and ``filament_binding`` (eps).
    """

    pairs: np.ndarray
    a: np.ndarray
    b: np.ndarray
    arc: np.ndarray
    k: np.ndarray
    off: np.ndarray
    binding: np.ndarray
    binding_off: np.ndarray
    subunits: np.ndarray
    filament: np.ndarray
    subunit_off: np.ndarray
    w: float = 1.0
    contact: float = 1.07
    radius: float = 10.0
    tilt: float = 0.0
    pitch: float = 0.0
    depth: float = 1.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "pairs", np.asarray(self.pairs, np.int64).reshape(-1, 2))
        m = len(self.pairs)
        for name, shape in (("a", (m, 2)), ("b", (m, 2)), ("arc", (m,)), ("k", (m,)), ("off", (m,))):
            v = np.asarray(getattr(self, name), np.float64).reshape(shape)
            if not np.all(np.isfinite(v)):
                raise ValueError(f"filaments.{name}: must be finite")
            set_(self, name, v)
        if np.any(self.k < 0) or np.any(self.arc <= 0):
            raise ValueError("filaments: spring constants must be >= 0 and arcs > 0")
        set_(self, "binding", np.asarray(self.binding, np.int64).reshape(-1))
        set_(self, "binding_off", np.asarray(self.binding_off, np.float64).reshape(len(self.binding)))
        set_(self, "subunits", np.asarray(self.subunits, np.int64).reshape(-1, 3))
        set_(self, "filament", np.asarray(self.filament, np.int64).reshape(len(self.subunits)))
        set_(self, "subunit_off", np.asarray(self.subunit_off, np.float64).reshape(len(self.subunits)))

    @classmethod
    def none(cls) -> Filaments:
        e2, e = np.empty((0, 2)), np.empty(0)
        return cls(np.empty((0, 2), np.int64), e2, e2, e, e, e, np.empty(0, np.int64), e, np.empty((0, 3), np.int64),
                   np.empty(0, np.int64), e)

    def __len__(self) -> int:
        return len(self.subunits)

    def shifted(self, by: int) -> Filaments:
        """The same filaments with every bead index shifted by ``by`` (a structure grown in front)."""
        return dataclasses.replace(self, pairs=self.pairs + by, binding=self.binding + by, subunits=self.subunits + by)

    def start(self) -> dict[str, float]:
        """The global parameters of :data:`PARAMETERS` and their starting values."""
        return {RADIUS: self.radius, TILT: self.tilt, PITCH: self.pitch, BINDING: self.depth, DISASSEMBLY: 0.0}

    def rest(self, radius: float, tilt: float, pitch: float) -> np.ndarray:
        """(m,) sigma, the springs' rest lengths at this preferred geometry."""
        return rest_lengths(self.a, self.b, self.arc, radius, tilt, pitch)

    def energy(self, positions: np.ndarray, box: np.ndarray, radius: float, tilt: float, pitch: float,
               disassembly: float = 0.0) -> tuple[float, np.ndarray]:
        """Reference spring energy (eps) and forces (n_beads, 3) eps/sigma at ``positions`` (n_beads, 3)
        sigma in the periodic ``box`` (3,) sigma."""
        d = positions[self.pairs[:, 1]] - positions[self.pairs[:, 0]]
        d -= box * np.round(d / box)
        r = np.linalg.norm(d, axis=1)
        on = (self.off > disassembly).astype(float)  # OpenMM step(x) is 1 for x >= 0: off = d counts as gone
        stretch = r - self.rest(radius, tilt, pitch)
        along = (on * self.k * stretch / np.where(r > 0, r, 1.0))[:, None] * d
        f = np.zeros_like(positions)
        np.add.at(f, self.pairs[:, 0], along)
        np.add.at(f, self.pairs[:, 1], -along)
        return float(0.5 * np.sum(on * self.k * stretch ** 2)), f

    def binding_energy(self, positions: np.ndarray, box: np.ndarray, heads: np.ndarray, depth: float, contact: float,
                       disassembly: float = 0.0) -> tuple[float, np.ndarray]:
        """Reference binding energy (eps) and forces: every live binding bead and every head bead
        ``heads`` (n_h,) attract with ``-depth`` within ``contact`` (sigma) and ``-depth cos^2(pi (r -
        contact) / 2w)`` up to ``contact + w``."""
        live = self.binding[self.binding_off > disassembly]
        d = positions[heads][None, :, :] - positions[live][:, None, :]
        d -= box * np.round(d / box)
        r = np.linalg.norm(d, axis=-1)
        x = np.pi * (r - contact) / (2 * self.w)
        inside, shell = r < contact, (r >= contact) & (r < contact + self.w)
        u = -depth * np.where(inside, 1.0, np.where(shell, np.cos(x) ** 2, 0.0))
        dudr = np.where(shell, depth * np.pi / self.w * np.sin(x) * np.cos(x), 0.0)  # d/dr of -depth cos^2
        along = (dudr / np.where(r > 0, r, 1.0))[..., None] * d  # force on the binding bead: +dU/dr along d
        f = np.zeros_like(positions)
        np.add.at(f, live, along.sum(1))
        np.add.at(f, heads, -along.sum(0))
        return float(u.sum()), f


def bending_rigidity(offsets: np.ndarray, spacing: float, k: float) -> tuple[float, float]:
    """(in-plane, out-of-plane) bending rigidity (eps sigma) of a straight filament of subunits with
    cross-section ``offsets`` (3, 2) sigma and springs of constant ``k`` as in :class:`Filaments`
    (every bead to every bead of the next subunit, like beads to the one after). In-plane bends the
    filament within the binding face (along u_r), out-of-plane out of it (along u_z). Persistence
    length l_p = rigidity / kT.

    Bending by curvature c stretches the spring between beads of mean offset y (from the neutral
    axis, along the bend) at separation L with axial length s = m a by -c y s^2 / L, so the energy
    per length is c^2/2 * sum(k s^4 / L^2 (y - y0)^2) / a, y0 the weighted centroid."""
    weights, means = [], []
    for m, pairs in ((1, [(i, j) for i in range(3) for j in range(3)]), (2, [(i, i) for i in range(3)])):
        for i, j in pairs:
            s = m * spacing
            length2 = s * s + float(np.sum((offsets[i] - offsets[j]) ** 2))
            weights.append(k * s ** 4 / length2)
            means.append((offsets[i] + offsets[j]) / 2)
    wts, ys = np.array(weights), np.array(means)
    centred = ys - (wts[:, None] * ys).sum(0) / wts.sum()
    rigidity = (wts[:, None] * centred ** 2).sum(0) / spacing
    return float(rigidity[0]), float(rigidity[1])
