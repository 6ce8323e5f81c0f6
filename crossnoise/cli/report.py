"""``crossnoise report`` — not built yet (issue #7); registered so the CLI shape is fixed."""

from crossnoise.cli.common import not_built

command = not_built('report', 7)
