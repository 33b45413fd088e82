"""Text shared by the alerts: the Dagster UI's address, truncation, timestamps and durations in words."""

from __future__ import annotations

from datetime import UTC, datetime

from resources.settings import mesh_settings

#: Longest error message per failed step in a payload (webhooks cap message sizes; the UI has the rest).
MAX_ERROR_CHARS = 2000


def dagster_ui_url() -> str | None:
    """Base URL of the Dagster UI for deep links: ``MESH_DAGSTER_UI_URL`` (optional), without trailing slash."""
    base = (mesh_settings().mesh_dagster_ui_url or "").strip().rstrip("/")
    return base or None


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` stripped, cut to ``limit`` characters with an ellipsis."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iso(moment: datetime | None) -> str | None:
    """``moment`` in UTC as ISO 8601 (``None`` stays ``None``)."""
    return moment.astimezone(UTC).isoformat() if moment else None


def human_duration(seconds: float) -> str:
    """``2 d 3 h 05 min`` style duration (whole minutes; under a minute: seconds)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if days or hours else []) + [f"{minutes:02d} min"]
    return " ".join(parts)
