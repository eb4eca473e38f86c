"""The license service's HTTP API, mounted under /api/v1 (licences, licence-applications, exams,
medical-certificates). Each module's router is included here, static paths before parametrised ones."""

from fastapi import APIRouter

from license_service.api.imports import router as imports_router
from license_service.api.licences import router as licences_router

router = APIRouter()
# /licences/imports before /licences/{record_id}.
router.include_router(imports_router)
router.include_router(licences_router)
