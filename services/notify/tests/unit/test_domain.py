"""One message's life and NT-02's backstop, pure."""

from __future__ import annotations

from notify_service import domain


def test_nt01_a_final_state_is_never_reopened_and_a_dead_letter_is_kept_until_requeued() -> None:
    assert set(domain.FINAL_STATES) == {"delivered", "failed"}
    assert domain.target("give_up") == "dead_lettered"
    assert domain.sources("requeue") == ("dead_lettered",)
    assert domain.target("requeue") == "queued"


def test_nt01_a_receipt_settles_whatever_we_still_thought_was_on_its_way() -> None:
    """A report overtaking the record of its hand-over (queued) or of a timed-out send (dead_lettered)
    settles it, so a message the phone got is never sent again."""
    for move in ("receipt_delivered", "receipt_failed"):
        assert set(domain.sources(move)) == {"queued", "sent", "dead_lettered"}  # type: ignore[arg-type]
    assert domain.target("receipt_delivered") == "delivered"
    assert domain.sources("handed_over") == ("queued",)


def test_nt02_notify_refuses_the_eleventh_code_of_a_day_only_for_codes() -> None:
    assert not domain.over_daily_code_cap("verification_code", 9)
    assert domain.over_daily_code_cap("verification_code", 10)
    assert not domain.over_daily_code_cap("registration_approved", 50)
