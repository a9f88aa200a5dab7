"""Molecules adsorbed on a partner lipid's heads (analysis.adsorbed), on a hand-built flat bilayer
with RNA-like chains placed at known distances from its heads, across the periodic boundary too."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import LZ, PATCH, plane, surfaces_trajectory

from exomembrane import analysis as an


def chains(near: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """The bilayer's head beads (n, 3) and 3-bead chains lying along x, one per entry of ``near``:
    True: its last bead 1.0 sigma from the upper head at the smallest x, beyond the box's x face
    (only its periodic image is near); False: 6 sigma above the bilayer."""
    surface = plane().moved([0.0, 0.0, LZ / 2])
    heads = an.lipid_indices(surfaces_trajectory([surface], PATCH).topology)[0]
    x = np.mod(surfaces_trajectory([surface], PATCH).xyz[0], PATCH)
    h = x[heads]
    upper = h[h[:, 2] > LZ / 2]
    edge = upper[np.argmin(upper[:, 0])]
    out = []
    for k, yes in enumerate(near):
        assert edge[0] < 0.6  # so the contact bead lies beyond the x face
        end = edge + [-0.6, 0.0, 0.8] if yes else np.array([5.0, 5.0 + 3 * k, LZ / 2 + 6.0])
        out.append(end - np.outer([2.0, 1.0, 0.0], [1.0, 0.0, 0.0]))  # beads at x - 2, x - 1, x
    return h, np.array(out)


def test_adsorbed_counts_the_chains_within_reach() -> None:
    surface = plane().moved([0.0, 0.0, LZ / 2])
    _, first = chains([True, False])
    _, second = chains([False, True])
    traj = surfaces_trajectory([surface, surface], PATCH, cargo={"RNA": [first, second]})
    got = an.adsorbed(traj, "RNA", "LIP")
    assert got.tolist() == [[True, False], [False, True]]
    heads = traj.xyz[:, an.lipid_indices(traj.topology)[0]]
    beads = traj.xyz[:, -6:].reshape(2, 2, 3, 3)  # frame, chain, bead, xyz
    d = beads[:, :, :, None] - heads[:, None, None]
    d -= PATCH * np.round(d / PATCH)  # numpy reference: minimum-image distance to the nearest head
    nearest = np.linalg.norm(d, axis=-1).min(axis=(2, 3))
    assert nearest[0, 0] <= 1.0 + 1e-5 and nearest[0, 1] > 3.0  # known answers: near, and 6 sigma over the midplane
    for reach in (0.5, 1.2, 3.0, 8.0):
        assert an.adsorbed(traj, "RNA", "LIP", reach=reach).tolist() == (nearest <= reach).tolist(), reach


def test_bad_input_is_refused() -> None:
    surface = plane().moved([0.0, 0.0, LZ / 2])
    traj = surfaces_trajectory([surface], PATCH, cargo={"RNA": [chains([True])[1]]})
    with pytest.raises(ValueError, match="partner: no lipid named 'CER'"):
        an.adsorbed(traj, "RNA", "CER")
    with pytest.raises(ValueError, match="species"):
        an.adsorbed(traj, "CARG", "LIP")
    with pytest.raises(ValueError, match="reach"):
        an.adsorbed(traj, "RNA", "LIP", reach=0.0)
