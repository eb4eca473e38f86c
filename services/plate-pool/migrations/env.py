from servicekit.migrations import run_env

from plate_pool_service.service import SPEC

run_env(SPEC)
