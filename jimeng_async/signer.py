"""The pluggable request signer: how a browser's anti-bot values reach a request.

The service guards some calls (today the Seedance 2.0 generate call) with the browser's
`msToken` and `a_bogus` query parameters, computed by the site's own script; no public
algorithm exists. A user who can obtain them (e.g. from a browser page they drive) plugs an
async callable in `Settings(request_signer=...)` or `JimengSession(request_signer=...)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: The parameters a browser signature adds to a guarded call.
BROWSER_SIGNATURE_PARAMS = ("msToken", "a_bogus")


@dataclass(frozen=True)
class SignableRequest:
    """The request about to be sent. `headers` leave out the Cookie and Sign (secrets)."""

    method: str
    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    endpoint: str


@dataclass(frozen=True)
class RequestSignature:
    """What a signer adds: query parameters (e.g. msToken, a_bogus) and headers."""

    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


#: An async callable that signs one request; it may return None to add nothing.
RequestSigner = Callable[[SignableRequest], Awaitable[RequestSignature | None]]

SIGNER_HELP = (
    "the service guards this model with the browser's msToken / a_bogus query parameters, "
    "which only the site's own script computes; plug in a signer that obtains them, e.g. "
    "Settings(request_signer=my_signer) or JimengSession(token, request_signer=my_signer), "
    "an async callable that receives a jimeng_async.SignableRequest and returns a "
    "jimeng_async.RequestSignature(params={'msToken': ..., 'a_bogus': ...})"
)
