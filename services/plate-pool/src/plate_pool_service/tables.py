"""Tables of the plate-pool database (outbox, inbox and audit_log come from servicekit)."""

from servicekit.db import new_metadata

metadata = new_metadata()
