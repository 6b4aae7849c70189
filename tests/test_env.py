"""Process environment helpers: thread settings, actor priority."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("start", "ask"), [(0, 5), (7, 5), (0, 0)])
def test_lower_priority_only_ever_makes_nicer(start: int, ask: int) -> None:
    """Nicer up to ``ask``, never less nice than it was (in a child: niceness sticks)."""
    code = (
        f"import os; from mcvision import _env; base = os.nice({start}); "
        f"n = _env.lower_priority({ask}); assert n == os.nice(0), n; "
        f"assert _env.lower_priority({ask}) == n; print(base, n)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    base, n = map(int, out.stdout.split())
    assert n == max(base, ask)


def test_torch_threads_are_not_imported_for_nothing() -> None:
    code = (
        "import sys; from mcvision import _env; n = _env.set_torch_threads(3); "
        "print(n, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["3", "False"]
