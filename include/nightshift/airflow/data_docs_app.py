"""The GX data docs as a web app for the Airflow API server, behind Airflow's own login.

Airflow mounts a plugin's FastAPI app as it is: the authentication its own API declares on its
routers never reaches a mounted app, so the docs (which show failing sample values) would be open
to anyone who can reach the API server. Here every request goes through Airflow's check: the JWT
the UI sends (the `_token` cookie, or an `Authorization: Bearer` token from `POST /auth/token`),
validated by the configured auth manager, which must then allow the user to read task logs: a
failed validation's task log shows the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

_bearer = HTTPBearer(auto_error=False)
# FastAPI's schema and its explorers (/docs, /redoc, /openapi.json) are routes outside the app's
# dependencies: left on, they answer anyone. These apps serve pages, not an API, so they have none.
NO_API_DOCS = {"docs_url": None, "redoc_url": None, "openapi_url": None}


async def require_task_log_reader(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """401 without a valid Airflow login, 403 when the auth manager refuses the user task logs."""
    # Imported per request, not at plugin load: every Airflow process loads the plugins (scheduler,
    # dag-processor, each task) and this import costs about a second; only the API server needs it.
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import get_user

    # Airflow's own resolution: a bearer token wins over the session cookie; 401 without either.
    user = await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    # No DAG named: the docs hold the results of every DAG's suites.
    if not get_auth_manager().is_authorized_dag(method="GET", access_entity=DagAccessEntity.TASK_LOGS, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")


def data_docs_app(site: Path) -> FastAPI:
    """Serve the folder `site` (index.html and its pages) to users allowed to read task logs."""
    app = FastAPI(title="nightshift data docs", dependencies=[Depends(require_task_log_reader)], **NO_API_DOCS)
    # check_dir=False: the folder appears with the first validation, after the server starts.
    files = StaticFiles(directory=str(site), html=True, check_dir=False)

    # A route rather than app.mount(): a mount has its own route table and skips the app's
    # dependencies, which is how a plugin's static pages end up public.
    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(request: Request) -> Response:
        return await files.get_response(files.get_path(request.scope), request.scope)

    return app
