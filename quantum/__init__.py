"""crossnoise.quantum — see README.md; built under its own issue."""
