"""The optional alert: the run's JSON summary POSTed to `ALERT_WEBHOOK_URL`.

Sent when a run fails (or is interrupted), when it finds rejections the last run did not
report, when the rejections pass `ALERT_REJECTED_THRESHOLD`, or when the drift stage finds
SuiviMO rows deleted or edited by hand that the last run had not reported (restored or
not). The decision is pure
(`alert_reasons`); a webhook that fails never fails the sync: the outcome is logged and
kept in the summary (`alert`). The URL may hold a token: it is never printed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import requests

from batisync.orchestrate.summary import RunSummary

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0


def alert_reasons(summary: RunSummary, threshold: int | None) -> list[str]:
    """Why this run deserves an alert (none: no alert)."""
    reasons = []
    if summary.status in {"failed", "interrupted"}:
        reasons.append(f"run {summary.status}" + (f": {summary.error}" if summary.error else ""))
    counts = summary.suivimo()
    if counts and not summary.dry_run:  # a dry run does not remember what it reported
        if new := counts.get("rejected_new", 0):
            reasons.append(f"{new} new rejection(s) since the last run")
        rejected = counts.get("rejected", 0)
        if threshold is not None and rejected > threshold:
            reasons.append(f"{rejected} rejections, more than ALERT_REJECTED_THRESHOLD={threshold}")
    drift = summary.drift()
    if drift.get("new") and not summary.dry_run:  # the same finding alerts once
        kinds = ", ".join(f"{k} {n}" for k, n in drift["new_kinds"].items())
        reasons.append(f"{drift['new']} new SuiviMO drift finding(s) ({kinds})")
    return reasons


def post_alert(url: str, payload: dict[str, Any], timeout: float = TIMEOUT_S) -> str:
    """POST the payload; returns what happened, in words that never hold the URL."""
    try:
        response = requests.post(
            url,
            data=json.dumps(payload, default=str),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
    except requests.RequestException as error:
        return f"FAILED: no answer from the webhook ({type(error).__name__})"
    if response.status_code >= 300:
        return f"FAILED: the webhook answered HTTP {response.status_code}"
    return f"sent (HTTP {response.status_code})"


def alert_hook(url: str, threshold: int | None) -> Callable[[RunSummary], None]:
    """`run_sync`'s `on_finish`: decide, send, and note the outcome in the summary."""

    def hook(summary: RunSummary) -> None:
        reasons = alert_reasons(summary, threshold)
        if not reasons:
            return
        payload = {**summary.to_dict(), "alert_reasons": reasons}
        try:
            outcome = post_alert(url, payload)
        except Exception as error:  # the alert never fails the run
            outcome = f"FAILED: {type(error).__name__}"
        sent = not outcome.startswith("FAILED")
        (log.info if sent else log.warning)("alert (%s): %s", "; ".join(reasons), outcome)
        summary.alert = {"reasons": reasons, "sent": sent, "outcome": outcome}

    return hook


__all__ = ["alert_hook", "alert_reasons", "post_alert"]
