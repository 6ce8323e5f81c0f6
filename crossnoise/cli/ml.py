"""``crossnoise ml`` — not built yet (issue #6); registered so the CLI shape is fixed."""

from crossnoise.cli.common import not_built

group = not_built('ml', 6)
