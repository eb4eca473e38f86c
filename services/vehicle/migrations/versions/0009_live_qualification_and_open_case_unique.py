"""One live temporary-plate qualification per unit, one open reissue case per vehicle and item (VH-12,
VH-02): the limits the use cases check by reading, held by the database under concurrent requests too.

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OPEN = "state IN ('submitted', 'accepted', 'produced', 'mailed', 'ready')"
LIVE = "state IN ('active', 'suspended')"


def upgrade() -> None:
    op.create_index(
        'uq_temp_plate_dealers_uscc_live',
        'temp_plate_dealers',
        ['uscc'],
        unique=True,
        postgresql_where=sa.text(LIVE),
    )
    op.create_index(
        'uq_applications_vehicle_item_open',
        'applications',
        ['vehicle_id', 'item'],
        unique=True,
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index('uq_applications_vehicle_item_open', table_name='applications', postgresql_where=sa.text(OPEN))
    op.drop_index('uq_temp_plate_dealers_uscc_live', table_name='temp_plate_dealers', postgresql_where=sa.text(LIVE))
