"""Act 2, MVB–plasma-membrane fusion: the fusion stage of two membranes per frame (:mod:`.stages`)."""
from .stages import STAGES, FusionStages, fusion_stages

__all__ = ["STAGES", "FusionStages", "fusion_stages"]
