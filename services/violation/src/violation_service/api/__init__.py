"""The violation service's HTTP API, mounted under /api/v1 (violations, payments)."""

from fastapi import APIRouter

from violation_service.api.batches import router as batches_router
from violation_service.api.decisions import router as decisions_router
from violation_service.api.handling import router as handling_router
from violation_service.api.payments import router as payments_router
from violation_service.api.violations import router as violations_router
from violation_service.api.vouchers import router as vouchers_router

router = APIRouter()
# The static /violations/intake-batches and /violations/decisions paths before /violations/{violation_id}.
router.include_router(batches_router)
router.include_router(decisions_router)
router.include_router(violations_router)
router.include_router(handling_router)
router.include_router(vouchers_router)
router.include_router(payments_router)
