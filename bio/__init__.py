"""crossnoise.bio — see README.md; built under its own issue."""
