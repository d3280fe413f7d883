"""Where the scripts of the repository's ``deploy/`` folder are, for code that may run installed.

The local Kafka broker and the Flink job server are built by shell scripts that live in the
repository, not in the package. An environment variable names each one; unset, the checkout
this code runs from is used when there is one, and otherwise the error says what to set.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["deploy_script"]

# The repository root when this package runs from a checkout (an editable install).
_CHECKOUT = Path(__file__).resolve().parents[1]


def deploy_script(env_var: str, relative_path: str) -> Path:
    """The script ``$env_var`` names, else ``relative_path`` in this checkout; raises if neither exists."""
    named = os.environ.get(env_var)
    script = Path(named) if named else _CHECKOUT / relative_path
    if not script.is_file():
        where = f"{env_var}={named}" if named else f"{env_var} is not set and this is not a checkout"
        raise FileNotFoundError(
            f"cannot find {relative_path}: {where}; set {env_var} to the script in a newswire "
            "source tree"
        )
    return script
