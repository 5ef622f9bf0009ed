"""`json_text`, the call log's JSON columns: NUL never reaches the database (JSONB rejects it)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from reasonmed.storage.call_log import json_text
from reasonmed.storage.checkpoint_rows import strip_nul


class Frozen(Mapping[str, Any]):
    """A Mapping that is not a dict (json.dumps alone would not take it)."""

    def __init__(self, **items: Any) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@pytest.mark.parametrize(
    "value",
    [
        {"why": "a\x00b", "k\x00ey": ["x\x00", ("t\x00",)]},
        {"plain": "é ✓", "n": 1.5, "nested": {"list": [1, None, True]}},
        {"mapping": Frozen(a="1\x00", b=Frozen(c=2))},
        {"mapping": Frozen(a="1", b=Frozen(c=2))},
        {"literal": "backslash-u \\u0000 is text, not NUL", "obj": object},
    ],
    ids=["nul", "plain", "mapping-with-nul", "mapping", "escaped-text"],
)
def test_json_text_matches_stripping_first(value: Any) -> None:
    text = json_text(value)
    assert text is not None and "\\u0000" not in text.replace("\\\\u0000", "")
    before = json.dumps(strip_nul(value), ensure_ascii=False, default=str)  # the old formula
    assert json.loads(text) == json.loads(before)


def test_none_is_sql_null() -> None:
    assert json_text(None) is None
    assert json_text(OrderedDict()) == "{}"
