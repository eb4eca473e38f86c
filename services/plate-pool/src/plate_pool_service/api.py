"""The plate-pool service's HTTP API, mounted under /api/v1: selections and segments."""

from fastapi import APIRouter

from plate_pool_service import appeals_api, segments_api, selections_api

router = APIRouter()
router.include_router(selections_api.router)
router.include_router(segments_api.router)
router.include_router(appeals_api.router)
