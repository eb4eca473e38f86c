from servicekit.migrations import run_env
from violation_service.service import SPEC

run_env(SPEC)
