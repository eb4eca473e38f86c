"""The notify rules: one message's life as a transition table, and NT-02's daily backstop. Pure, no I/O;
delivery.py reads its SQL conditions from here, so a state a move may start from is written once.
"""

from __future__ import annotations

from typing import Literal, get_args

SmsState = Literal["queued", "sent", "delivered", "failed", "dead_lettered"]
SMS_STATES: tuple[SmsState, ...] = get_args(SmsState)

SmsMove = Literal[
    "handed_over",  # the provider took it (the local sink answers `delivered` at once)
    "delivered_at_hand_over",
    "refused",  # a permanent refusal by the provider
    "retry",  # a transient failure: queued again, later
    "give_up",  # after the last attempt: kept, never dropped (NT-01)
    "receipt_delivered",  # the provider's delivery report
    "receipt_failed",
    "requeue",  # an operator sends dead letters again
]

# A report is the provider's word on what reached the phone: it settles a message we still think is on
# its way (sent), or whose acceptance we never heard (queued for a retry, or dead-lettered after timeouts),
# so a message the phone got is never sent again. A final state (delivered, failed) is never reopened.
SMS_MOVES: dict[tuple[SmsState, SmsMove], SmsState] = {
    ("queued", "handed_over"): "sent",
    ("queued", "delivered_at_hand_over"): "delivered",
    ("queued", "refused"): "failed",
    ("queued", "retry"): "queued",
    ("queued", "give_up"): "dead_lettered",
    ("queued", "receipt_delivered"): "delivered",
    ("queued", "receipt_failed"): "failed",
    ("sent", "receipt_delivered"): "delivered",
    ("sent", "receipt_failed"): "failed",
    ("dead_lettered", "receipt_delivered"): "delivered",
    ("dead_lettered", "receipt_failed"): "failed",
    ("dead_lettered", "requeue"): "queued",
}
FINAL_STATES: frozenset[SmsState] = frozenset(
    state for state in SMS_STATES if not any(source == state for source, _ in SMS_MOVES)
)


def sources(move: SmsMove) -> tuple[SmsState, ...]:
    """The states a move may start from, for the `WHERE state IN (...)` that guards its UPDATE."""
    return tuple(source for (source, m) in SMS_MOVES if m == move)


def target(move: SmsMove) -> SmsState:
    """Where a move leads (each move leads to one state, whatever it starts from)."""
    (to,) = {to for (_, m), to in SMS_MOVES.items() if m == move}
    return to


CODE_TEMPLATE = "verification_code"
CODES_PER_DAY = 10  # NT-02


def over_daily_code_cap(template: str, codes_today: int) -> bool:
    """NT-02 backstop: the issuing service enforces the limits (servicekit.verification); notify refuses
    to be the 11th code of a day to one phone whoever asks (ADR 0030)."""
    return template == CODE_TEMPLATE and codes_today >= CODES_PER_DAY
