"""What every benchmark script does at the end: write its JSON result, maybe echo it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_result(result: dict[str, Any], out: str | Path, echo: bool = False) -> str:
    """Write ``result`` as indented JSON to ``out`` (folders made); print it when ``echo``.

    Returns the JSON text.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "r" / "x.json"
        >>> write_result({"fps": 1.5}, p) == p.read_text().strip()
        True
    """
    text = json.dumps(result, indent=2)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if echo:
        print(text)
    return text
