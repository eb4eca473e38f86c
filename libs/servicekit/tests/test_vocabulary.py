"""The identity-kind vocabulary (ADR 0045): one word per kind across every event and body."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from servicekit.vocabulary import ID_KINDS, UNIT_ID_KINDS, IdKind, IdKindIn


class Produced(BaseModel):
    id_kind: IdKind


class Received(BaseModel):
    id_kind: IdKindIn


def test_the_kinds_are_the_validators_words() -> None:
    assert ID_KINDS == ("resident_id", "uscc", "passport", "military_id", "residence_permit")
    assert {"uscc"} == UNIT_ID_KINDS


def test_an_old_spelling_is_read_as_todays_word_on_input_only() -> None:
    assert Received(id_kind="social_credit_code").id_kind == "uscc"
    assert Received(id_kind="uscc").id_kind == "uscc"
    with pytest.raises(ValidationError):
        Produced(id_kind="social_credit_code")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "USCC", "credit_code", 1])
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        Received(id_kind=value)
