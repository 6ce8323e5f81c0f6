"""``crossnoise results`` — not built yet (issue #7); registered so the CLI shape is fixed."""

from crossnoise.cli.common import not_built

group = not_built('results', 7)
