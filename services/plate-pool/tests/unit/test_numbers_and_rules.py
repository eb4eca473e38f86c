"""Pure rules: the number <-> index bijection behind the bitmap pools (PP-10/PP-12), and domain rules."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from plate_pool_service import domain
from plate_pool_service.numbers import InvalidPattern, NumberSpace, matches
from servicekit.clock import SHANGHAI


def test_pp10_a_pattern_enumerates_its_numbers_without_i_or_o() -> None:
    space = NumberSpace("冀A", "*#&##")
    assert space.size == 24 * 10 * 34 * 100
    seen = {space.number(i) for i in range(0, space.size, 997)}
    assert all("I" not in n[2:] and "O" not in n[2:] for n in seen)
    for i in (0, 1, 33, 34, 12_345, space.size - 1):
        assert space.index(space.number(i)) == i
    assert space.number(0) == "冀AA0000"
    assert space.number(space.size - 1) == "冀AZ9Z99"


def test_pp10_a_limit_keeps_the_first_numbers_only() -> None:
    space = NumberSpace("冀A", "#####", 50_000)
    assert space.size == 50_000
    assert space.number(49_999) == "冀A49999"
    assert space.index("冀A49999") == 49_999
    assert space.index("冀A50000") is None
    with pytest.raises(IndexError):
        space.number(50_000)


def test_pp10_numbers_outside_the_segment_have_no_index() -> None:
    space = NumberSpace("冀A", "3####")
    assert space.index("冀B31234") is None
    assert space.index("冀A41234") is None
    assert space.index("冀A3123") is None
    assert space.index("冀A3I234") is None


@pytest.mark.parametrize("pattern", ["####", "#I###", "#####X", "ab###"])
def test_pp10_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidPattern):
        NumberSpace("冀A", pattern).number(0)


def test_pp10_custom_patterns_match_shapes() -> None:
    assert matches("#*###", "3K123")
    assert not matches("#*###", "31123")
    assert not matches("#####", "3K123")


def test_pp04_opening_hours_are_beijing_time() -> None:
    settings = domain.SEED_SETTINGS
    domain.check_open(datetime(2027, 3, 1, 8, 0, tzinfo=SHANGHAI), settings)
    with pytest.raises(domain.Refusal) as refused:
        domain.check_open(datetime(2027, 3, 1, 23, 0, tzinfo=SHANGHAI), settings)
    assert (refused.value.code, refused.value.rule) == ("OUTSIDE_SELECTION_HOURS", "PP-04")


def test_pp09_the_ban_lasts_two_years_even_from_29_february() -> None:
    assert domain.ban_until(date(2027, 3, 5), domain.SEED_SETTINGS) == date(2029, 3, 5)
    assert domain.ban_until(date(2028, 2, 29), domain.SEED_SETTINGS) == date(2030, 2, 28)


def test_pp07_after_the_sms_window_the_chances_decide_the_step() -> None:
    assert domain.after_sms_lapse(0, 3) == "selecting"
    assert domain.after_sms_lapse(5, 0) == "selecting"
    assert domain.after_sms_lapse(0, 0) == "exhausted"


def test_pp06a_settings_default_to_the_seed_and_refuse_nonsense() -> None:
    s = domain.OfficeSettings.from_json({"random_draws": 5, "unknown": 1})
    assert (s.random_draws, s.custom_attempts, s.hold_seconds, s.session_minutes) == (5, 20, 180, 60)
    with pytest.raises(domain.Refusal):
        domain.OfficeSettings(opens_at="23:00", closes_at="08:00").check()


def test_pp04_to_pp09_the_lifecycle_table_names_every_move() -> None:
    """The selection's states and moves (domain.MOVES): every state is reached or a start, every action
    names only states, and the steps refuse with the rule of the step."""
    reached = {t for move in domain.MOVES.values() for t in move.targets}
    assert reached == set(domain.State)
    assert set(domain.MOVES) == set(domain.Action)
    assert domain.can(domain.Action.CHOOSE, "selecting")
    assert not domain.can(domain.Action.CONFIRM, "selecting")
    assert domain.may_become(domain.Action.SMS_LAPSE, "awaiting_sms", domain.State.EXHAUSTED)
    with pytest.raises(domain.Refusal) as refused:
        domain.check_step(domain.Action.SEND_CODE, "selecting")
    assert (refused.value.code, refused.value.rule, refused.value.extra) == (
        "SELECTION_NOT_IN_STEP",
        "PP-07",
        {"state": "selecting"},
    )
    with pytest.raises(domain.Refusal) as refused:
        domain.check_step(domain.Action.APPEAL, "selected")
    assert (refused.value.code, refused.value.rule, refused.value.extra) == ("NOTHING_TO_APPEAL", "PP-11", {})


def test_pp12_the_scripts_name_only_statuses_and_states_python_knows() -> None:
    """The Lua scripts ship as package data and spell statuses and states only through R and S, which
    hot.py builds from HotStatus and domain.State."""
    import re
    from importlib import resources

    from plate_pool_service import hot

    files = [f for f in (resources.files("plate_pool_service") / "lua").iterdir() if f.name.endswith(".lua")]
    assert {f.name for f in files} >= {"prelude.lua", "draw.lua", "confirm.lua", "release.lua"}
    text = "".join(f.read_text(encoding="utf-8") for f in files)
    assert set(re.findall(r"\bR\.([A-Z_]+)", text)) <= {s.name for s in hot.HotStatus}
    assert set(re.findall(r"\bS\.([A-Z_]+)", text)) <= {s.name for s in domain.State}
    assert not re.search(r"return \{'-?\d", text)  # no bare status codes left
    # written out as literals when loaded: Redis runs the code it ran when they were spelled inline
    assert not re.search(r"\b[RS]\.[A-Z_]", hot._DRAW)
    assert "return {'-1'}" in hot._DRAW
