"""Adobe IMS emulation (issue 20): technical accounts, their client secrets, the signing keys.

Revision ID: c0005
Revises: c0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "c0005"
down_revision = "c0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "technical_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("account_user", sa.String(length=128), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("product_profiles", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technical_accounts")),
        sa.UniqueConstraint("client_id", name=op.f("uq_technical_accounts_client_id")),
        sa.UniqueConstraint("account_user", name=op.f("uq_technical_accounts_account_user")),
    )
    op.create_table(
        "technical_account_secrets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["technical_accounts.id"],
            name=op.f("fk_technical_account_secrets_account_id_technical_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technical_account_secrets")),
        sa.UniqueConstraint("uuid", name=op.f("uq_technical_account_secrets_uuid")),
    )
    op.create_index(
        op.f("ix_technical_account_secrets_account_id"),
        "technical_account_secrets",
        ["account_id"],
    )
    op.create_table(
        "ims_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_ims_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("ims_signing_keys")
    op.drop_index(
        op.f("ix_technical_account_secrets_account_id"), table_name="technical_account_secrets"
    )
    op.drop_table("technical_account_secrets")
    op.drop_table("technical_accounts")
