from servicekit.migrations import run_env

from identity_service.service import SPEC

run_env(SPEC)
