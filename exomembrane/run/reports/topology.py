"""Report of every run whose structure records membranes and compartments: which compartments leak
into each other and when, pores, divisions and mergers of membranes."""
from __future__ import annotations

from typing import Any

import numpy as np

from exomembrane.analysis.topology import settled
from exomembrane.run.report import ANY, Part, RunData, report


def topology_report(t: dict[str, Any]) -> str:
    """A few lines from ``summary["topology"]``: leaks with their times, the largest pore, events."""
    lines = [f"compartments ({', '.join(t['compartments'])}):"]
    for leak in t["leaks"]:
        end = "the end" if leak["end_tau"] is None else f"t = {leak['end_tau']:.0f} tau"
        lines.append(f"  {leak['between'][0]} and {leak['between'][1]} connected from t = {leak['start_tau']:.0f} "
                     f"tau to {end}")
    if not t["leaks"]:
        lines.append("  every compartment sealed from the others in every frame")
    lines.append(f"  largest pore    {t['largest_pore_sigma']:.1f} sigma" if t["largest_pore_sigma"] else
                 "  largest pore    none")
    shown = t["events"][:8]
    lines += [f"  t = {e['time_tau']:>6.0f} tau  {e['kind']}" for e in shown]
    if len(t["events"]) > len(shown):
        lines.append(f"  ... {len(t['events']) - len(shown)} more events in summary.json")
    return "\n".join(lines)


@report(ANY, text=("topology", topology_report))
def leaks(run: RunData) -> Part:
    """Leak check: for each pair of compartments, the times they are joined by free space."""
    t = run.topology
    if t is None:
        return Part()
    out = []
    names = t.compartments
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            joined = t.connected[:, i, j]
            if joined.any():
                sealed = settled(joined)
                out.append({"between": [names[i], names[j]], "start_tau": float(t.time[np.argmax(joined)]),
                            "end_tau": None if sealed is None else float(t.time[sealed]),
                            "frames": int(joined.sum())})
    summary = {"compartments": list(names), "leaks": out, "largest_pore_sigma": float(t.largest_pore.max(initial=0)),
               "events": [{"time_tau": e.time, "kind": e.kind, "membranes": list(e.membranes)} for e in t.events]}
    label = {"largest_pore": "largest pore radius (sigma)"}
    return Part({"topology": summary}, {"largest_pore": t.largest_pore}, label)
