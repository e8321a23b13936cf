"""The partverse annotation server: tasks, leases, revisions, review, audit and roles over FastAPI.

Layout: `settings` (one validated Settings object), `db` (engine, sessions, Alembic upgrade),
`models` (SQLAlchemy tables), `labels` (per-face label arrays: transport and edit operations),
`store` (content-addressed mesh files), `deps` (session, current user, role checks),
`services/*` (claim, revision writes, review, stats), `routers/*` (one per resource under
/api/v1) and `app.create_app(settings)`.
"""
