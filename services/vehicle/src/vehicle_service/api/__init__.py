"""The vehicle service's HTTP API, mounted under /api/v1 (vehicles, vehicle-applications,
inspection-*, temp-plates)."""

from fastapi import APIRouter

from vehicle_service.api.applications import post_router
from vehicle_service.api.applications import router as applications_router
from vehicle_service.api.inspections import router as inspections_router
from vehicle_service.api.station_plans import router as station_plans_router
from vehicle_service.api.temp_plates import router as temp_plates_router
from vehicle_service.api.vehicle_changes import router as vehicle_changes_router
from vehicle_service.api.vehicles import preselection_router
from vehicle_service.api.vehicles import router as vehicles_router

router = APIRouter()
# The static /vehicles/preselections paths first, before /vehicles/{vehicle_id}.
router.include_router(preselection_router)
router.include_router(vehicles_router)
router.include_router(vehicle_changes_router)
router.include_router(inspections_router)
router.include_router(station_plans_router)
router.include_router(post_router)
router.include_router(applications_router)
router.include_router(temp_plates_router)
