"""NT-01 across services: every reason code a producer puts in an outcome event has notify's wording, so
no SMS falls back to a generic reason because a producer's vocabulary grew."""

from __future__ import annotations

from identity_service.lifecycle import CANCEL_REASONS
from license_service.domain import APPLICATION_KINDS
from license_service.published import DeliveryBanImposed as LicenceDeliveryBanImposed
from notify_service.subscriptions import ACCOUNT_CANCEL_REASONS, BAN_REASONS, LICENCE_BUSINESS
from vehicle_service.published import DeliveryBanImposed


def test_nt01_id16_every_cancellation_reason_identity_knows_has_notifys_wording() -> None:
    assert set(ACCOUNT_CANCEL_REASONS) == set(CANCEL_REASONS)


def test_nt01_vh07_every_ban_reason_vehicle_publishes_has_notifys_wording() -> None:
    reasons = DeliveryBanImposed.model_json_schema()["properties"]["reason"]["enum"]
    assert set(BAN_REASONS) == set(reasons)


def test_nt01_vh07_every_ban_reason_license_publishes_has_notifys_wording() -> None:
    reasons = LicenceDeliveryBanImposed.model_json_schema()["properties"]["reason"]["enum"]
    assert set(BAN_REASONS) == set(reasons)


def test_nt01_every_licence_application_kind_license_knows_has_notifys_wording() -> None:
    assert set(LICENCE_BUSINESS) == set(APPLICATION_KINDS)
