"""The declared answer shapes (schemas.py, segment_views.py) follow the domain they describe."""

from __future__ import annotations

from dataclasses import fields
from typing import get_args

from plate_pool_service.domain import OfficeSettings, State
from plate_pool_service.schemas import PlateSelectionState
from plate_pool_service.segment_views import OfficeSettingsOut


def test_selection_states_are_the_lifecycle_tables() -> None:
    assert list(get_args(PlateSelectionState)) == [s.value for s in State]


def test_pp06a_office_settings_answer_declares_every_setting() -> None:
    assert list(OfficeSettingsOut.model_fields) == [f.name for f in fields(OfficeSettings)]
    OfficeSettingsOut.model_validate(OfficeSettings().to_json())
