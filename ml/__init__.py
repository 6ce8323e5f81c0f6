"""crossnoise.ml — see README.md; built under its own issue."""
