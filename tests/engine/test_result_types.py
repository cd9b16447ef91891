"""The per-item result types write their own `__init__` (a frozen dataclass's, made cheaper):
it must take exactly the fields, with their defaults, and leave every dataclass behaviour as
the generated one would."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from recograph.core.vocabulary import SignalName
from recograph.engine import Contribution, Item, Reason, ReasonKind
from recograph.recommenders.protocol import CFEvidence

REASON = Reason(ReasonKind.SIMILAR_TO, "Similar to A", (3,), "similarity", 0.5, ("both X",))
CONTRIBUTION = Contribution(SignalName.CONTENT, 0.5, 0.25)
ITEM = Item(7, 0.5, 1, REASON, (CONTRIBUTION,))
EVIDENCE = CFEvidence(3, "similarity", 0.5)
EXAMPLES: list[Any] = [REASON, CONTRIBUTION, ITEM, EVIDENCE]


@pytest.mark.parametrize("value", EXAMPLES, ids=lambda v: type(v).__name__)
def test_init_takes_the_fields_in_order_with_their_defaults(value: Any) -> None:
    parameters = list(inspect.signature(type(value)).parameters.values())
    fields = dataclasses.fields(value)
    assert [p.name for p in parameters] == [f.name for f in fields]
    for parameter, field in zip(parameters, fields, strict=True):
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert parameter.default == (
            inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        )


@pytest.mark.parametrize("value", EXAMPLES, ids=lambda v: type(v).__name__)
def test_instances_behave_as_frozen_dataclasses(value: Any) -> None:
    cls = type(value)
    values = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    assert vars(value) == values  # every field set, nothing else
    again = cls(**values)
    assert again == value
    assert hash(again) == hash(value)
    assert dataclasses.replace(value) == value
    assert dataclasses.asdict(again) == dataclasses.asdict(value)
    first = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, first, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(value, first)


def test_defaults_fill_the_fields_left_out() -> None:
    reason = Reason(ReasonKind.POPULAR, "Popular in Laptops")
    assert (reason.evidence, reason.metric, reason.value, reason.features) == ((), None, None, ())
    assert (reason.categories, reason.rule_level, reason.rule_id) == ((), None, None)
    assert Item(1, 0.5, 2, reason, ()).out_of_score_order is False
    assert CFEvidence(None, "factors", 0.1).said == ""
    changed = dataclasses.replace(REASON, kind=ReasonKind.PROMOTED, text="Featured: x")
    assert (changed.kind, changed.text, changed.evidence) == (
        ReasonKind.PROMOTED,
        "Featured: x",
        (3,),
    )
