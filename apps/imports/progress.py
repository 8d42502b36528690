"""How far a running import has got, readable while its transaction is still open.

The import writes nothing others can see until it commits, so its progress cannot live in the
database: it is a small JSON file per job beside the uploaded files (MEDIA_ROOT/imports/progress/),
written by the django-q2 worker and read by the page's poll. Replaced atomically, so a reader never
sees half a file. One host (or a shared MEDIA_ROOT) is assumed, as for the uploads themselves.
"""
import json
import os
import time
from pathlib import Path

from django.conf import settings


def _path(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / "progress" / f"{job_id}.json"


def write_progress(job_id: int, *, done: int, total: int, started: float) -> None:
    """started: time.time() when the work began."""
    path = _path(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"done": done, "total": total, "started": started, "at": time.time()}))
    os.replace(temporary, path)


def clear_progress(job_id: int) -> None:
    _path(job_id).unlink(missing_ok=True)


def read_progress(job) -> dict:
    """Rows done, of how many, rows per second and seconds left (None until there is a rate)."""
    try:
        state = json.loads(_path(job.pk).read_text())
    except (OSError, ValueError):
        state = {"done": 0, "total": job.rows, "started": None, "at": None}
    done, total = state["done"], state["total"] or job.rows
    elapsed = (state["at"] - state["started"]) if state["started"] else 0
    rate = done / elapsed if elapsed > 0 and done else None
    return {
        "status": job.status,
        "running": job.is_running,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
        "rows_per_second": round(rate) if rate else None,
        "seconds_left": round((total - done) / rate) if rate else None,
    }
