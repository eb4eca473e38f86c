"""The license service's HTTP API, mounted under /api/v1 (licences, licence-applications, exams,
medical-certificates). Each module's router is included here, static paths before parametrised ones."""

from fastapi import APIRouter

from license_service.api.exam_sites import router as exam_sites_router
from license_service.api.exams import router as exams_router

router = APIRouter()
router.include_router(exam_sites_router)
router.include_router(exams_router)
