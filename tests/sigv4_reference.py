"""botocore's SigV4 signer, restricted to the headers PROTOCOL.md §4 signs: the reference."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials as BotoCredentials

from jimeng_async.sigv4 import Credentials


class ProtocolSigV4Auth(botocore.auth.SigV4Auth):  # type: ignore[misc]
    """botocore's signer, signing only the x-amz-* headers as PROTOCOL.md §4 says (no host)."""

    def headers_to_sign(self, request: Any) -> Any:
        selected = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower().startswith("x-amz-"):
                selected[name.lower()] = value
        return selected


def botocore_headers(
    *,
    method: str,
    url: str,
    params: Mapping[str, str],
    body: bytes | None,
    credentials: Credentials,
    region: str,
    now: datetime,
    service: str = "imagex",
    include_content_sha256: bool = False,
) -> dict[str, str]:
    """The headers botocore adds when it signs the same request at `now`."""
    headers = {}
    if include_content_sha256:
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(body or b"").hexdigest()
    request = AWSRequest(method=method, url=url, params=dict(params), data=body, headers=headers)
    boto_credentials = BotoCredentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )
    naive_utc = now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive_utc):
        ProtocolSigV4Auth(boto_credentials, service, region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}
