"""The license service's HTTP API, mounted under /api/v1 (licences, licence-applications, exams,
medical-certificates). Each module's router is included here, static paths before parametrised ones."""

from fastapi import APIRouter

from license_service.api import points

router = APIRouter()
router.include_router(points.router)
