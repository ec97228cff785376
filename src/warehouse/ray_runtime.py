"""One way for every part of the warehouse to get a Ray connection: join a cluster, or start a local Ray and stop it.

Serving (``serve --engine ray``), hyper-parameter search (``train --parallel ray``) and batch scoring
(``jobs run --executor ray``) all call :func:`ray_connection`. It keeps a connection the process
already holds (an embedding program, the test session's shared Ray); joins ``address`` when one is
given and only disconnects after; otherwise starts a Ray of this process's own (``address="local"``,
so it never attaches to another Ray found on the machine) whose files live in the data dir
(``runtime/ray``), or in a scratch dir removed on exit where that path is too long for Ray's Unix
sockets, with no dashboard and no log forwarding, and stops exactly the processes it started.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

MAX_RAY_TEMP_DIR_CHARS = 40
"""Longest Ray temp dir whose session sockets (``session_<date>_<pid>/sockets/...``) fit in 107 bytes."""
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2
"""Default object store of a local Ray: scoring moves small arrays, so a small store leaves memory to the node."""


@contextmanager
def ray_connection(
    settings: Settings,
    *,
    address: str | None = None,
    object_store_memory: int = LOCAL_OBJECT_STORE_BYTES,
) -> Iterator[bool]:
    """Hold a Ray connection for the context; answers whether this call started a local Ray.

    ``address`` defaults to ``settings.ray_address``; ``object_store_memory`` applies to a local Ray only.
    """
    import ray

    if ray.is_initialized():  # the process already holds a connection: keep it, and leave it be after
        yield False
        return
    address = address if address is not None else settings.ray_address
    if address is not None:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        try:
            yield False
        finally:
            ray.shutdown()  # disconnects only: the cluster is not ours
        return
    with local_temp_dir(settings) as temp_dir:
        ray.init(
            address="local",
            _temp_dir=str(temp_dir),
            include_dashboard=False,
            object_store_memory=object_store_memory,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        try:
            yield True
        finally:
            ray.shutdown()  # stops the processes this ray.init started, and only those


@contextmanager
def local_temp_dir(settings: Settings) -> Iterator[Path]:
    """``runtime/ray`` in the data dir, or a scratch dir (removed on exit) when that path is too long for sockets."""
    preferred = settings.runtime_dir / "ray"
    if len(str(preferred)) <= MAX_RAY_TEMP_DIR_CHARS:
        preferred.mkdir(parents=True, exist_ok=True)
        yield preferred
        return
    scratch = Path(tempfile.mkdtemp(prefix="warehouse-ray-"))
    logger.warning("%s is too long for Ray's socket paths; Ray's files go to %s (removed on exit)", preferred, scratch)
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
