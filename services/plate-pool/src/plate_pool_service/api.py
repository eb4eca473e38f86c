"""The plate-pool service's HTTP API, mounted under /api/v1: selections, their steps and certificates,
appeals, and segments. The certificate and appeal routes come first: `/certificate-checks` and `/appeals`
before `/{selection_id}`."""

from fastapi import APIRouter

from plate_pool_service import (
    appeals_api,
    certificates_api,
    segments_api,
    selection_steps_api,
    selections_api,
)

router = APIRouter()
router.include_router(certificates_api.router)
router.include_router(appeals_api.router)
router.include_router(selections_api.router)
router.include_router(selection_steps_api.router)
router.include_router(segments_api.router)
