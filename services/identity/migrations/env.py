from identity_service.service import SPEC
from servicekit.migrations import run_env

run_env(SPEC)
