"""Jupyter layer: nglview views (:mod:`.view`) and live runs with widgets (:mod:`.live`).
Nothing below this layer imports it (or ipywidgets, nglview)."""
