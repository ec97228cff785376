"""FastAPI dependencies that hand a route what the app factory put on ``app.state``.

Each is ``async``: FastAPI awaits an ``async def`` dependency on the event loop, while a plain
``def`` one goes to the thread pool, a hop that costs a request a context switch or two for what is
only an attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from warehouse.settings import Settings


async def app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
