from servicekit.migrations import run_env

from license_service.service import SPEC

run_env(SPEC)
