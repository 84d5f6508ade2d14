"""Forward one request to a backend and stream its answer back: the balancer's data path.

This is a plain ASGI handler, not a Starlette route: a proxied request costs no routing, no
``Request`` object and no middleware. Upstream it speaks httpx — an :class:`httpx.Request` sent
through an :class:`httpx.AsyncBaseTransport` (the balancer's :class:`PoolTransport`, or an
injected client in tests).

A request is sent again, to another backend, only when the connection could not be opened
(refused, reset or timed out while connecting): then nothing of it left the balancer. Once the
request was written, a failure is answered 502 (504 on a timeout) and never replayed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
from starlette.types import Message, Receive, Scope, Send

from load_balancer.balancer import Backend, Balancer
from load_balancer.shared import (
    FAILURES,
    IN_FLIGHT,
    LATENCY_SUM_US,
    REQUESTS,
    RESPONSES_5XX,
    RETRIES,
    TIMEOUTS,
    W_BAD_REQUEST,
    W_CLIENT_GONE,
    W_NO_BACKEND,
    W_REQUESTS,
    W_TOO_LARGE,
    SharedState,
    bucket_offset,
)
from services import plid
from services.errors import (
    InvalidRequest,
    McsimError,
    NoBackendAvailable,
    PayloadTooLarge,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.forwarding import PROXY_SECRET_HEADER
from services.pool_transport import BufferedBody, ResponseBody
from services.raw_headers import Triple, normalized_headers
from services.soap.envelope import render_fault
from services.soap.namespaces import SoapVersion

__all__ = ["Proxy", "Sender"]

log = logging.getLogger("mcsim.lb")
access = logging.getLogger("mcsim.lb.access")

#: Seconds a keyed request is told to wait while its instance is down (about two health checks).
_KEY_RETRY_AFTER_SECONDS = 2


class KeyOwnerUnavailable(NoBackendAvailable):
    """The instance that owns an Idempotency-Key is down: 503 with Retry-After."""


#: Sends one request upstream and returns once the response head is in.
Sender = Callable[[httpx.Request], Awaitable[httpx.Response]]

# Request headers the balancer drops (hop-by-hop, RFC 9110 §7.6.1), rewrites or looks at.
_DROP, _CONTENT_LENGTH, _HOST, _FORWARDED_FOR, _TRANSFER_ENCODING, _CONNECTION = range(6)
_KEY, _SOAP_ACTION, _REQUEST_ID = range(6, 9)
_SPECIAL = {
    b"connection": _CONNECTION,
    b"keep-alive": _DROP,
    b"proxy-authenticate": _DROP,
    b"proxy-authorization": _DROP,
    b"proxy-connection": _DROP,
    b"te": _DROP,
    b"trailer": _DROP,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"upgrade": _DROP,
    b"host": _HOST,
    b"expect": _DROP,
    b"content-length": _CONTENT_LENGTH,
    b"x-forwarded-for": _FORWARDED_FOR,
    b"x-forwarded-proto": _DROP,
    b"x-forwarded-host": _DROP,
    # Only the balancer itself may prove it is the balancer (security review F2).
    PROXY_SECRET_HEADER.encode(): _DROP,
    b"idempotency-key": _KEY,
    b"soapaction": _SOAP_ACTION,
    b"x-request-id": _REQUEST_ID,
}
_RESPONSE_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: ``GET /{org}/campaign/{api}/{eventID}/{PKey}``: the REST status of one event (DESIGN §3.8).
_EVENT_HREF = re.compile(r"/[^/]+/campaign/[^/]+/[^/]+/(-?\d{1,20})/?")
_SOAP_ROUTER = "/nl/jsp/soaprouter.jsp"


class _TooLarge(Exception):
    """The request body grew past the limit while it streamed."""


class _ClientGone(Exception):
    """The caller disconnected before its request body was complete."""


class _ClientBody(httpx.AsyncByteStream):
    """A request body streamed from the ASGI server as the backend takes it."""

    def __init__(self, first: bytes, receive: Receive, limit: int) -> None:
        self.first = first
        self.receive = receive
        self.limit = limit
        self.consumed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the body chunk by chunk; refuse it past the limit."""
        self.consumed = True
        size = len(self.first)
        if size > self.limit:
            raise _TooLarge
        yield self.first
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise _TooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


class Proxy:
    """The data path of one worker."""

    def __init__(
        self,
        *,
        balancer: Balancer,
        shared: SharedState,
        sender: Sender,
        worker: int = 0,
        max_body_bytes: int,
        full_urls: bool = False,
        access_log: bool = False,
        proxy_secret: str | None = None,
    ) -> None:
        self.balancer = balancer
        self.shared = shared
        self.sender = sender
        self.max_body_bytes = max_body_bytes
        # An injected httpx client may ignore the ``target`` extension: give it whole URLs.
        self.full_urls = full_urls
        self.access_log = access_log
        # Sent with every request so the backends believe the X-Forwarded-For set below.
        self._proof: Triple | None = None
        if proxy_secret:
            name = PROXY_SECRET_HEADER.encode()
            self._proof = (name, name, proxy_secret.encode())
        self._worker_at = shared.worker_base(worker)
        self._id_prefix = f"lb{worker}-{os.urandom(4).hex()}-"
        self._ids = 0

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward one HTTP request and stream the answer back."""
        ints = self.shared.ints
        ints[self._worker_at + W_REQUESTS] += 1
        method: str = scope["method"]
        out: list[Triple] = []
        content_length: bytes | None = None
        chunked = False
        key: bytes | None = None
        soap_action = False
        request_id: bytes | None = None
        forwarded_for: bytes | None = None
        host = b""
        connection_tokens: bytes | None = None
        special = _SPECIAL.get
        for name, value in scope["headers"]:
            kind = special(name)
            if kind is None:
                out.append((name, name, value))
            elif kind == _CONTENT_LENGTH:
                content_length = value
            elif kind == _HOST:
                host = value
            elif kind == _FORWARDED_FOR:
                forwarded_for = value if forwarded_for is None else forwarded_for + b", " + value
            elif kind == _TRANSFER_ENCODING:
                chunked = True
            elif kind == _CONNECTION:
                connection_tokens = value
            elif kind == _KEY:
                key = value
                out.append((name, name, value))
            elif kind == _SOAP_ACTION:
                soap_action = True
                out.append((name, name, value))
            elif kind == _REQUEST_ID:
                request_id = value
                out.append((name, name, value))
        if connection_tokens is not None:
            out = _without_connection_options(out, connection_tokens)
        if request_id is None:
            self._ids += 1
            request_id = f"{self._id_prefix}{self._ids:x}".encode()
            out.append((b"x-request-id", b"x-request-id", request_id))
        client = scope.get("client")
        peer = client[0].encode() if client else b""
        chain = forwarded_for + b", " + peer if forwarded_for else peer
        out.append((b"x-forwarded-for", b"x-forwarded-for", chain))
        if self._proof is not None:
            out.append(self._proof)
        out.append(
            (b"x-forwarded-proto", b"x-forwarded-proto", scope.get("scheme", "http").encode())
        )
        if host:
            out.append((b"x-forwarded-host", b"x-forwarded-host", host))
        soap = soap_action or scope["path"] == _SOAP_ROUTER

        # -- the request body ------------------------------------------------------------
        declared = None
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                declared = -1
            if declared < 0 or chunked:
                ints[self._worker_at + W_BAD_REQUEST] += 1
                await self._fail(
                    scope, send, soap, request_id, InvalidRequest("invalid Content-Length header")
                )
                return
            if declared > self.max_body_bytes:
                await self._too_large(scope, send, soap, request_id)
                return
        message = await receive()
        if message["type"] == "http.disconnect":
            ints[self._worker_at + W_CLIENT_GONE] += 1
            return
        body: bytes = message.get("body", b"")
        stream: httpx.AsyncByteStream
        if not message.get("more_body", False):
            if len(body) > self.max_body_bytes:
                await self._too_large(scope, send, soap, request_id)
                return
            stream = BufferedBody(body)
            if body or declared is not None or chunked or method in _BODY_METHODS:
                out.append((b"content-length", b"content-length", b"%d" % len(body)))
        else:
            stream = _ClientBody(body, receive, self.max_body_bytes)
            if declared is not None:
                out.append((b"content-length", b"content-length", content_length or b"0"))
            else:
                out.append((b"transfer-encoding", b"transfer-encoding", b"chunked"))

        # -- choose a backend and send ---------------------------------------------------
        target: bytes = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        instance = None
        if method == "GET":
            found = _EVENT_HREF.fullmatch(scope["path"])
            if found:
                instance = plid.instance_of(int(found.group(1)))
        tried: list[Backend] = []
        while True:
            backend, refusal = self._choose(instance, key, tried)
            if backend is None:
                assert refusal is not None
                ints[self._worker_at + W_NO_BACKEND] += 1
                await self._fail(scope, send, soap, request_id, refusal)
                return
            tried.append(backend)
            counters = backend.counters_at
            ints[counters + REQUESTS] += 1
            ints[counters + IN_FLIGHT] += 1
            started = time.perf_counter()
            try:
                response = await self.sender(self._request(method, backend, target, out, stream))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                ints[counters + IN_FLIGHT] -= 1
                ints[counters + FAILURES] += 1
                self._eject(backend, exc, request_id)
                if getattr(stream, "consumed", False):
                    await self._fail(scope, send, soap, request_id, _unavailable(backend, exc))
                    return
                ints[counters + RETRIES] += 1
                continue
            except _TooLarge:
                ints[counters + IN_FLIGHT] -= 1
                await self._too_large(scope, send, soap, request_id)
                return
            except _ClientGone:
                ints[counters + IN_FLIGHT] -= 1
                ints[self._worker_at + W_CLIENT_GONE] += 1
                return
            except httpx.TimeoutException as exc:
                ints[counters + IN_FLIGHT] -= 1
                ints[counters + TIMEOUTS] += 1
                ints[counters + FAILURES] += 1
                self._eject(backend, exc, request_id)
                error = UpstreamTimeout(
                    f"the execution instance at {backend.url} did not answer in time",
                    detail=str(exc),
                )
                await self._fail(scope, send, soap, request_id, error)
                return
            except httpx.TransportError as exc:
                ints[counters + IN_FLIGHT] -= 1
                ints[counters + FAILURES] += 1
                self._eject(backend, exc, request_id)
                await self._fail(scope, send, soap, request_id, _broken(backend, exc))
                return
            break

        # -- stream the answer back ------------------------------------------------------
        status = response.status_code
        answer = response.stream
        assert isinstance(answer, httpx.AsyncByteStream)
        try:
            if status >= 500:
                ints[counters + RESPONSES_5XX] += 1
            headers = []
            has_id = False
            for name, value in response.headers.raw:
                lowered = name.lower()
                if lowered in _RESPONSE_DROP:
                    continue
                if lowered == b"x-request-id":
                    has_id = True
                headers.append((name, value))
            if not has_id:
                headers.append((b"x-request-id", request_id))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            ready = answer.ready() if type(answer) is ResponseBody else None
            if ready is not None:
                await send({"type": "http.response.body", "body": ready, "more_body": False})
            else:
                await self._stream_body(answer, send)
        except httpx.TransportError as exc:
            # The head is already sent: the caller sees the connection close mid-body.
            ints[counters + FAILURES] += 1
            if isinstance(exc, httpx.TimeoutException):
                ints[counters + TIMEOUTS] += 1
            self._eject(backend, exc, request_id)
        finally:
            await answer.aclose()
            ints[counters + IN_FLIGHT] -= 1
            elapsed = time.perf_counter() - started
            ints[counters + LATENCY_SUM_US] += int(elapsed * 1_000_000)
            ints[counters + bucket_offset(elapsed * 1000)] += 1
        if self.access_log:
            access.info(
                "%s %s %d",
                method,
                scope["path"],
                status,
                extra={
                    "backend": backend.url,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": request_id.decode("latin-1"),
                },
            )

    @staticmethod
    async def _stream_body(stream: httpx.AsyncByteStream, send: Send) -> None:
        pending: bytes | None = None
        async for chunk in stream:
            if pending is not None:
                await send({"type": "http.response.body", "body": pending, "more_body": True})
            pending = chunk
        await send({"type": "http.response.body", "body": pending or b"", "more_body": False})

    def _request(
        self,
        method: str,
        backend: Backend,
        target: bytes,
        headers: list[Triple],
        stream: httpx.AsyncByteStream,
    ) -> httpx.Request:
        url = backend.base_url
        if self.full_urls:
            url = httpx.URL(backend.url + target.decode("latin-1"))
        return httpx.Request(
            method,
            url,
            headers=normalized_headers([*headers, (b"host", b"host", backend.host)]),
            stream=stream,
            extensions={"target": target},
        )

    def _choose(
        self, instance: int | None, key: bytes | None, tried: list[Backend]
    ) -> tuple[Backend | None, McsimError | None]:
        balancer = self.balancer
        if instance is not None and balancer.serving_instance(instance):
            backend = balancer.for_instance(instance, tried)
            if backend is None:
                return None, NoBackendAvailable(
                    f"execution instance {instance}, which holds this event, is not available",
                    detail="the event can only be read from the instance whose id is the high "
                    "byte of its PKey; retry when that instance is back",
                )
            return backend, None
        if key is not None:
            backend = balancer.for_key(key, tried)
            if backend is None:
                return None, KeyOwnerUnavailable(
                    "the execution instance that owns this Idempotency-Key is not available",
                    detail="a request with an Idempotency-Key only goes to the instance its key "
                    "hashes to, the one that remembers it (another would create a second event): "
                    f"retry with the same key in {_KEY_RETRY_AFTER_SECONDS} s",
                )
            return backend, None
        backend = balancer.round_robin(tried)
        if backend is not None:
            return backend, None
        if tried:
            return None, UpstreamUnavailable(
                "no execution instance accepted the connection",
                detail=f"tried {', '.join(b.url for b in tried)}",
            )
        return None, NoBackendAvailable(
            "no execution instance is available behind the load balancer",
            detail="every backend is down or none is configured; see GET /_lb/status",
        )

    def _eject(self, backend: Backend, exc: Exception, request_id: bytes) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if self.balancer.eject(backend, reason):
            log.warning(
                "backend %s marked down",
                backend.url,
                extra={
                    "backend": backend.url,
                    "cause": reason,
                    "request_id": request_id.decode("latin-1"),
                },
            )

    async def _too_large(self, scope: Scope, send: Send, soap: bool, request_id: bytes) -> None:
        self.shared.ints[self._worker_at + W_TOO_LARGE] += 1
        error = PayloadTooLarge(
            f"the request body is larger than {self.max_body_bytes} bytes",
            detail="the load balancer refuses bodies above MCSIM_LB_MAX_BODY_BYTES",
        )
        await self._fail(scope, send, soap, request_id, error)

    async def _fail(
        self, scope: Scope, send: Send, soap: bool, request_id: bytes, error: McsimError
    ) -> None:
        if error.status_code >= 500:
            log.warning(
                "%s %s: %s",
                scope["method"],
                scope["path"],
                error.message,
                extra={"status": error.status_code, "request_id": request_id.decode("latin-1")},
            )
        if soap:
            version = SoapVersion.SOAP11
            for name, value in scope["headers"]:
                if name == b"content-type" and value.startswith(b"application/soap+xml"):
                    version = SoapVersion.SOAP12
            reply = render_fault(error, version=version)
            body, media_type = reply.body, reply.media_type.encode()
        else:
            body = json.dumps(error.to_json()).encode()
            media_type = b"application/json"
        headers = [
            (b"content-type", media_type),
            (b"content-length", b"%d" % len(body)),
            (b"x-request-id", request_id),
        ]
        if isinstance(error, KeyOwnerUnavailable):
            headers.append((b"retry-after", b"%d" % _KEY_RETRY_AFTER_SECONDS))
        start: Message = {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": headers,
        }
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _without_connection_options(headers: list[Triple], tokens: bytes) -> list[Triple]:
    # Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    named = {token.strip().lower() for token in tokens.split(b",")} - {b"close", b"keep-alive"}
    return [h for h in headers if h[1] not in named] if named else headers


def _unavailable(backend: Backend, exc: Exception) -> McsimError:
    return UpstreamUnavailable(
        f"the execution instance at {backend.url} cannot be reached", detail=str(exc)
    )


def _broken(backend: Backend, exc: Exception) -> McsimError:
    return UpstreamUnavailable(
        f"the execution instance at {backend.url} failed to answer",
        detail=f"{type(exc).__name__}: {exc}",
    )
