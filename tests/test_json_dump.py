"""The targets' JSON writer equals ``json.dumps(..., ensure_ascii=False, indent=2)`` byte for byte."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from qcvngen.targets.common import _indented_json

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)


@given(_VALUES)
def test_any_json_value_is_written_as_json_dumps_writes_it(value: Any) -> None:
    assert _indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)


def test_what_it_leaves_to_json_dumps_is_still_written_the_same() -> None:
    for value in ({1: "a"}, [(1, 2)], {"x": math.inf}, [math.nan], {"k": True, "n": None}):
        assert _indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)
