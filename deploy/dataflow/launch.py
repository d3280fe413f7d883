"""The Flex Template's entry point: ``newswire run`` with the template's parameters.

The Flex Template launcher runs this file (``FLEX_TEMPLATE_PYTHON_PY_FILE``) with every
parameter as ``--name=value``; Beam options the launcher adds (``--runner``, ``--project``,
``--region``, ``--temp_location``, ``--sdk_container_image``...) come the same way.
``--streaming`` is a switch for ``newswire run``, so the parameter's ``true``/``false`` is
turned into the switch or dropped. The launched program must return once the job is
submitted (Dataflow's Flex Template guide), so it runs with Beam's ``--no_wait_until_finish``:
``newswire run`` then prints the job's state instead of waiting for its summary.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator

from newswire.pipelines import cli

_SWITCH = re.compile(r"--(streaming)=(true|false)", re.IGNORECASE)


def run_arguments(argv: Iterable[str]) -> Iterator[str]:
    """The launcher's arguments as ``newswire run`` takes them."""
    for argument in argv:
        switch = _SWITCH.fullmatch(argument)
        if switch is None:
            yield argument
        elif switch[2].lower() == "true":
            yield f"--{switch[1]}"


def main(argv: Iterable[str]) -> int:
    return cli.main(["run", "--no_wait_until_finish", *run_arguments(argv)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
