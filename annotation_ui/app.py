"""`create_app(settings)`: the FastAPI application with every router under /api/v1."""
from __future__ import annotations

import json

from annotation_ui.settings import Settings

API_PREFIX = "/api/v1"


class BodyLimit:
    """ASGI middleware: refuse request bodies over the limit with 413 before the app sees them.

    The body is read fully (up to the limit) and replayed, so a handler never sees a partial body.
    Uploads to /api/v1/blobs get the larger blob limit.
    """

    def __init__(self, app, settings: Settings):  # noqa: ANN001
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = (self.settings.max_blob_bytes if scope["path"].startswith(API_PREFIX + "/blobs")
                 else self.settings.max_request_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(send, limit)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await _too_large(send, limit)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay():  # noqa: ANN202
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _too_large(send, limit: int) -> None:  # noqa: ANN001
    payload = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def _lifespan(settings: Settings):  # noqa: ANN202
    """Bound the worker threads that run request handlers (anyio's default is 40); freeze startup objects.

    Handlers hold the GIL between database calls; with many more threads than cores, the thread
    holding the SQLite write lock waits for the GIL behind the others (a lock convoy), so a few
    threads serve more requests, with lower latency, than many.
    """
    import contextlib
    import gc

    @contextlib.asynccontextmanager
    async def lifespan(_app):  # noqa: ANN001, ANN202
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        gc.collect()
        gc.freeze()  # the app's long-lived objects (routes, models, compiled SQL) leave the GC's scans
        yield

    return lifespan


def create_app(settings: Settings | None = None, *, migrate: bool = True):  # noqa: ANN201
    """Build the app; connects to `settings.database_url` and upgrades its schema unless migrate=False."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from annotation_ui import db
    from annotation_ui.errors import ApiError
    from annotation_ui.routers import audit, blobs, health, projects, reviews, tasks, users
    from annotation_ui.services.content import LabelCache
    from annotation_ui.store import BlobStore

    settings = settings or Settings.from_env()
    engine = db.make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                            pool_size=settings.pool_size)
    if migrate:
        db.upgrade(engine)
    app = FastAPI(
        lifespan=_lifespan(settings), title="partverse annotation server", version="1",
        description="Tasks, leases, revisions, edit operations, review and audit for part annotation. "
        "Every endpoint except /api/v1/health needs `Authorization: Bearer <token>`. Writes carry "
        "`If-Match: \"<revision>\"`. Label arrays travel as zstd-compressed little-endian int32, base64.",
        openapi_url=API_PREFIX + "/openapi.json", docs_url=API_PREFIX + "/docs", redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.label_cache = LabelCache(settings.label_cache_mb * 1024 * 1024)
    # every session sees the app's label cache and name memo (services/content.py, services/lookup.py)
    app.state.sessionmaker = db.make_sessionmaker(engine, info={"label_cache": app.state.label_cache, "names": {}})
    app.state.store = BlobStore(settings.store_dir)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())

    @app.exception_handler(db.DatabaseBusy)
    async def _busy(_: Request, exc: db.DatabaseBusy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    for module in (health, users, projects, tasks, reviews, audit, blobs):
        app.include_router(module.router, prefix=API_PREFIX)
    from annotation_ui.routers import dashboard, review_page  # issue 10: the /review page and its endpoints

    app.include_router(dashboard.router, prefix=API_PREFIX)
    review_page.mount(app, API_PREFIX)
    app.add_middleware(BodyLimit, settings=settings)
    return app


def worker_app():  # noqa: ANN201
    """The app of one `partverse serve --workers N` process: settings from PARTVERSE_* (set by serve),
    schema already migrated by the parent."""
    return create_app(Settings.from_env(), migrate=False)
