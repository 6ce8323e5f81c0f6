"""``crossnoise sweep`` — not built yet (issue #7); registered so the CLI shape is fixed."""

from crossnoise.cli.common import not_built

group = not_built('sweep', 7)
