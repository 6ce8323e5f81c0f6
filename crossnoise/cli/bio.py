"""``crossnoise bio`` — not built yet (issue #5); registered so the CLI shape is fixed."""

from crossnoise.cli.common import not_built

group = not_built('bio', 5)
