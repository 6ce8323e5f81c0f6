"""``crossnoise quantum`` — not built yet (issue #3); registered so the CLI shape is fixed."""

from crossnoise.cli.common import not_built

group = not_built('quantum', 3)
