"""The Serve deployments' shared batching shell, without Ray: requests in, requests out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mcvision.serve.deployments import _Batched, _pairs


@pytest.mark.parametrize(
    ("requests", "expected", "items"),
    [
        ([[("a", 1), ("b", 2)], [("c", 3)]], [["a1", "b2"], ["c3"]], 3),  # two cameras merged
        ([[("a", 1)], [], [("c", 3)]], [["a1"], [], ["c3"]], 2),  # an empty request
        ([[]], [[]], 0),
    ],
)
def test_one_model_call_for_all_requests_and_each_gets_its_own_back(
    requests: list[list[tuple[str, int]]], expected: list[list[str]], items: int
) -> None:
    calls: list[int] = []

    def model(frames: list[str], dets: list[int]) -> list[str]:
        calls.append(len(frames))
        return [f"{f}{d}" for f, d in zip(frames, dets, strict=True)]

    shell = _Batched()
    out: Any = asyncio.run(shell._flat(_pairs(model), requests))
    assert out == expected
    assert calls == ([items] if items else [])  # never more than one model call
    stats = shell.batch_stats()
    assert stats["items"] == items and stats["batches"] == 1
    assert stats["max_requests"] == len(requests)
