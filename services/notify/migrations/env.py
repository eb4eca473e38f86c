from servicekit.migrations import run_env

from notify_service.service import SPEC

run_env(SPEC)
