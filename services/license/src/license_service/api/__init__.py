"""The license service's HTTP API, mounted under /api/v1 (licences, licence-applications, exams,
medical-certificates). Each module's router is included here, static paths before parametrised ones."""

from fastapi import APIRouter

from license_service.api import points
from license_service.api.application_steps import post_router as application_post_router
from license_service.api.application_steps import router as application_steps_router
from license_service.api.applications import router as applications_router
from license_service.api.contact import router as contact_router
from license_service.api.exam_sites import router as exam_sites_router
from license_service.api.exams import router as exams_router
from license_service.api.imports import router as imports_router
from license_service.api.licences import router as licences_router
from license_service.api.medical import router as medical_router

router = APIRouter()
# Applications: the static /post-events before /{application_id}.
router.include_router(application_post_router)
router.include_router(applications_router)
router.include_router(application_steps_router)
router.include_router(medical_router)
router.include_router(contact_router)
# /licences/imports and /licences/mine/points before /licences/{record_id}.
router.include_router(imports_router)
router.include_router(points.router)
router.include_router(licences_router)
router.include_router(exam_sites_router)
router.include_router(exams_router)
