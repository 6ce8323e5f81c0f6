"""The crossnoise command line (application layer)."""
