"""Act 2, MVB–plasma-membrane fusion: the fusion stage of two membranes per frame (:mod:`.stages`),
and what fusion delivers: lipid and content mixing, ILV release and leaks (:mod:`.release`)."""
from .release import Leaks, Release, leaks, lipid_mixing, release
from .stages import STAGES, FusionStages, fusion_stages

__all__ = ["STAGES", "FusionStages", "Leaks", "Release", "fusion_stages", "leaks", "lipid_mixing", "release"]
