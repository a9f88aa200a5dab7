"""The package version (one place; the run manifest records it)."""
__version__ = "0.1.0"
