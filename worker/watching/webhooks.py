"""Webhooks: one signed JSON POST per hit, retried with backoff, never sent twice.

The body is built from the stored hit alone, so every attempt sends the same bytes with the
same ``idempotency_key``; ``X-Briefing-Signature: sha256=<hex>`` is the HMAC-SHA256 of those
bytes with the watch's secret.  A delivery is claimed in the store before it is sent (no
two runners send it at once) and marked delivered on a 2xx answer, so it is never sent
again; after ``retries`` failed retries it is marked failed and ``briefing watch hits``
shows it.  The receiver's address passes the same guard as article fetching
(:mod:`worker.intake.netguard`): resolved once, checked, and connected to as checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from worker.errors import BriefingError, FetchError, WatchError
from worker.intake.fetch import USER_AGENT, FetchLimits
from worker.intake.netguard import check_url, host_header
from worker.storage.datadir import Hidden
from worker.storage.watch_interface import WatchStoreLike
from worker.storage.watchrules import NOTHING_HIDDEN
from worker.watching.domain import Delivery, Hit, Watch

__all__ = [
    "SIGNATURE_HEADER",
    "Attempt",
    "DeliveryLoop",
    "WebhookPolicy",
    "check_webhook_url",
    "deliver",
    "deliver_due",
    "send_claimed",
    "sign",
    "webhook_body",
]

log = logging.getLogger("briefing.watches")

SIGNATURE_HEADER = "X-Briefing-Signature"
# How long a claimed delivery is ours: longer than one attempt can take.
CLAIM_LEASE = 120.0


@dataclass(frozen=True)
class WebhookPolicy:
    """How webhooks are sent: retries, their backoff, and the network rules of fetching."""

    retries: int = 5
    backoff: float = 30.0  # seconds before the first retry, doubled for each further one
    max_delay: float = 3600.0
    timeout: float = 10.0
    limits: FetchLimits = field(default_factory=FetchLimits)

    def delay(self, failures: int) -> float | None:
        """Seconds before the next try after *failures* failed attempts; None: give up."""
        if failures > self.retries:
            return None
        return float(min(self.max_delay, self.backoff * 2 ** (failures - 1)))


@dataclass(frozen=True)
class Attempt:
    """How one attempt at a delivery ended."""

    hit_id: int
    delivered: bool
    status: int = 0
    error: str = ""
    retry_in: float | None = None  # seconds until the next try (None: delivered or failed)


def check_webhook_url(url: str, limits: FetchLimits) -> None:
    """Refuse a webhook URL that article fetching would refuse (:class:`WatchError`)."""
    try:
        check_url(url, allow_private=limits.allow_private, allowlist=limits.private_allowlist)
    except FetchError as exc:
        raise WatchError(f"webhook URL refused: {exc}") from None


def webhook_body(hit: Hit, watch: Watch) -> bytes:
    """The JSON body of a hit's webhook: the same bytes on every attempt."""
    data: dict[str, Any] = {
        "idempotency_key": hit.key,
        "event": "hit",
        "watch": {"id": watch.id, "name": watch.name, "query": watch.query},
        "hit": {k: v for k, v in hit.to_json().items() if k not in ("delivery", "key")},
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of *body*."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, signature: str, policy: WebhookPolicy) -> int:
    """POST *body* to *url* (address checked and pinned, no redirects); the status.

    The answer's body is never read: only its status counts, and a receiver could send
    gigabytes, or its headers and then nothing, to hold the sender.
    """
    target = check_url(url, allow_private=policy.limits.allow_private,
                       allowlist=policy.limits.private_allowlist)
    timeout = httpx.Timeout(policy.timeout, connect=min(policy.timeout,
                                                        policy.limits.connect_timeout))
    with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        request = client.build_request(
            "POST", target.connect_url, content=body,
            headers={"Host": host_header(url), "User-Agent": USER_AGENT,
                     "Content-Type": "application/json", SIGNATURE_HEADER: signature},
            extensions={"sni_hostname": target.host})
        try:
            response = client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot reach {url}: {exc}", transient=True) from exc
        response.close()
        return response.status_code


def send_claimed(store: WatchStoreLike, delivery: Delivery, policy: WebhookPolicy) -> Attempt:
    """Send one claimed delivery and record how it went."""
    hit, watch = delivery.hit, delivery.watch
    body = webhook_body(hit, watch)
    status = 0
    try:
        status = _post(watch.webhook_url, body, sign(body, watch.secret), policy)
        error = "" if 200 <= status < 300 else f"HTTP {status} from the receiver"
    except BriefingError as exc:
        error = str(exc)
    except Exception as exc:  # an unexpected failure must still settle the claim
        log.exception("webhook of hit %d failed unexpectedly", hit.id)
        error = f"unexpected error: {exc}"
    if not error:
        store.delivered(hit.id, status)
        return Attempt(hit.id, delivered=True, status=status)
    delay = policy.delay(delivery.attempts + 1)
    store.attempt_failed(hit.id, error, status=status,
                         retry_at=None if delay is None else time.time() + delay)
    if delay is None:
        log.warning("webhook of hit %d (watch %s) failed for good: %s", hit.id, watch.name,
                    error)
    return Attempt(hit.id, delivered=False, status=status, error=error, retry_in=delay)


def deliver(store: WatchStoreLike, hit_id: int, policy: WebhookPolicy,
            hidden: Hidden = NOTHING_HIDDEN) -> Attempt | None:
    """Send one hit's webhook if it is due now (None: not due, delivered, taken, or of an
    item of *hidden*: being taken down, ``DataDir.hidden()``)."""
    claimed = store.claim(hit_id, lease=CLAIM_LEASE, hidden=hidden)
    return send_claimed(store, claimed[0], policy) if claimed else None


def deliver_due(store: WatchStoreLike, policy: WebhookPolicy, *, limit: int = 50,
                hidden: Hidden = NOTHING_HIDDEN) -> list[Attempt]:
    """Send every delivery due now (one attempt each), up to *limit*; none of an item of
    *hidden* (being taken down)."""
    return [send_claimed(store, d, policy)
            for d in store.claim(lease=CLAIM_LEASE, limit=limit, hidden=hidden)]


class DeliveryLoop:
    """Sends due webhooks every *poll* seconds on a background thread: the retries of an
    inline setup (``briefing serve`` without a broker; the queue sends them as tasks)."""

    def __init__(self, store: WatchStoreLike, policy: WebhookPolicy, poll: float,
                 hidden: Callable[[], Hidden] = Hidden) -> None:
        self.store = store
        self.policy = policy
        self.poll = poll
        self.hidden = hidden  # what is being taken down now: DataDir.hidden
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="briefing-webhooks",
                                            daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look for due webhooks now (a job just recorded hits)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the attempt in progress, if any."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.timeout + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.store, self.policy, hidden=self.hidden())
            except Exception:  # the store is busy or damaged: try again next round
                log.exception("sending due webhooks failed")
            self._wake.wait(self.poll)
            self._wake.clear()
