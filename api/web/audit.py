"""The audit log for the web page's actions (the API's middleware audits only ``/v1``).

Same record as the API's: who (key id), what (method and route template), the status, the
latency and how many results; never a form value.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.orm import Session

from api.web.session import WebSession
from vcsmatch.store import audit

logger = logging.getLogger("vcsmatch.api")


def audit_web(
    db: Session,
    ws: WebSession | None,
    method: str,
    route_template: str,
    status: int,
    started: float,
    n_results: int | None = None,
) -> None:
    """Record one web action; a failure to record is logged and never fails the page."""
    try:
        audit.record(
            db,
            key_id=ws.key.id if ws and ws.key else None,
            method=method,
            route_template=route_template,
            status=status,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            n_results=n_results,
        )
    except Exception as exc:  # noqa: BLE001 - the audit must never fail the action it records
        db.rollback()
        logger.warning("web audit entry not stored: %s", type(exc).__name__)
