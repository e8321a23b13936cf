"""claim indexes: queue order (project, status, priority desc, id), lease owner, assignee

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_queue")
        batch_op.create_index("ix_tasks_queue_order", ["project_id", "status", sa.text("priority DESC"), "id"])
        batch_op.create_index("ix_tasks_lease_owner", ["lease_owner_id"])
        batch_op.create_index("ix_tasks_assignee", ["assignee_id"])


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_assignee")
        batch_op.drop_index("ix_tasks_lease_owner")
        batch_op.drop_index("ix_tasks_queue_order")
        batch_op.create_index("ix_tasks_queue", ["project_id", "status", "priority"])
