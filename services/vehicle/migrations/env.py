from servicekit.migrations import run_env
from vehicle_service.service import SPEC

run_env(SPEC)
