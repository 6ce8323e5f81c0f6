"""``crossnoise quantum compare`` and ``scan`` — not built yet (issue #4); added to the quantum group."""

from crossnoise.cli.common import not_built

compare = not_built("compare", 4)
scan = not_built("scan", 4)
