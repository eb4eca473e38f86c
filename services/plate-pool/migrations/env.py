from plate_pool_service.service import SPEC
from servicekit.migrations import run_env

run_env(SPEC)
