"""SigV4 for ImageX: the signer against botocore, AWS's published vectors, and the verifier."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st
from sigv4_reference import botocore_headers

from jimeng_async import sigv4
from jimeng_async.sigv4 import (
    POST_SIGNED_HEADERS,
    Credentials,
    amz_date,
    canonical_query,
    compute_signature,
    parse_authorization,
    sign_request,
    verify_request,
)


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


# -- strategies ---------------------------------------------------------------------------

any_text = st.text(max_size=24)
header_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=80
).filter(str.strip)
key_ids = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), min_size=1, max_size=40)
credentials_st = st.builds(Credentials, key_ids, any_text, header_text)
params_st = st.dictionaries(any_text, any_text, max_size=6)
regions = st.from_regex(r"[a-z]{2}-[a-z]{3,9}-[0-9]", fullmatch=True)
services = st.one_of(st.just("imagex"), st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True))
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.one_of(st.none(), st.just(timezone.utc), st.just(timezone(timedelta(hours=8)))),
)
segments = st.one_of(
    st.sampled_from([".", "..", "", "~a", "x-y_z", "%41", "a b", "é"]),
    st.text("abcXYZ019-_.~", max_size=6),
)
paths = st.lists(segments, max_size=5).map(lambda parts: "/" + "/".join(parts))
hosts = st.sampled_from(
    ["https://imagex.bytedanceapi.com", "http://127.0.0.1:8123", "https://h.example:8443"]
)


# -- against botocore ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    credentials=credentials_st,
    params=params_st,
    region=regions,
    service=services,
    now=moments,
    host=hosts,
    path=paths,
)
def test_get_matches_botocore(
    credentials: Credentials,
    params: dict[str, str],
    region: str,
    service: str,
    now: datetime,
    host: str,
    path: str,
) -> None:
    url = host + path
    ours = sign_request(
        method="GET",
        url=url,
        params=params,
        body=None,
        credentials=credentials,
        region=region,
        now=now,
        service=service,
    )
    reference = botocore_headers(
        method="GET",
        url=url,
        params=params,
        body=None,
        credentials=credentials,
        region=region,
        now=now,
        service=service,
    )
    assert lowered(ours) == reference
    assert set(reference) == {"x-amz-date", "x-amz-security-token", "authorization"}


@settings(max_examples=300, deadline=None)
@given(
    credentials=credentials_st,
    params=params_st,
    body=st.binary(max_size=300),
    region=regions,
    now=moments,
)
def test_post_with_content_sha256_matches_botocore(
    credentials: Credentials, params: dict[str, str], body: bytes, region: str, now: datetime
) -> None:
    kwargs: dict[str, Any] = {
        "method": "POST",
        "url": "https://imagex.bytedanceapi.com/",
        "params": params,
        "body": body,
        "credentials": credentials,
        "region": region,
        "now": now,
        "include_content_sha256": True,
    }
    ours = sign_request(**kwargs)
    assert lowered(ours) == botocore_headers(**kwargs)
    assert ours["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert (
        "SignedHeaders=x-amz-content-sha256;x-amz-date;x-amz-security-token,"
        in (ours["Authorization"])
    )


@settings(max_examples=200, deadline=None)
@given(params=params_st)
def test_canonical_query_matches_botocore(params: dict[str, str]) -> None:
    signer = botocore.auth.SigV4Auth(BotoCredentials("k", "s"), "imagex", "cn-north-1")
    request = AWSRequest(method="GET", url="https://h/", params=params)
    assert canonical_query(params) == signer.canonical_query_string(request)


@settings(max_examples=200, deadline=None)
@given(now=moments)
def test_amz_date_is_utc(now: datetime) -> None:
    text = amz_date(now)
    utc = now.astimezone(timezone.utc) if now.tzinfo else now
    assert text == utc.strftime("%Y%m%dT%H%M%SZ")
    assert len(text) == 16


# -- known answers ------------------------------------------------------------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
AWS_SUITE_TIME = "20150830T123600Z"


@pytest.mark.parametrize(
    ("method", "params", "body", "headers", "expected"),
    [
        (  # get-vanilla
            "GET",
            {},
            b"",
            {"Host": "example.amazonaws.com", "X-Amz-Date": AWS_SUITE_TIME},
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (  # get-vanilla-query-order-key-case
            "GET",
            {"Param2": "value2", "Param1": "value1"},
            b"",
            {"Host": "example.amazonaws.com", "X-Amz-Date": AWS_SUITE_TIME},
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (  # post-vanilla
            "POST",
            {},
            b"",
            {"Host": "example.amazonaws.com", "X-Amz-Date": AWS_SUITE_TIME},
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
    ],
)
def test_aws_test_suite_vectors(
    method: str, params: dict[str, str], body: bytes, headers: dict[str, str], expected: str
) -> None:
    signature, signed = compute_signature(
        method=method,
        path="/",
        params=params,
        headers=headers,
        payload_hash=hashlib.sha256(body).hexdigest(),
        secret_access_key=AWS_SECRET,
        region="us-east-1",
        service="service",
        timestamp=AWS_SUITE_TIME,
    )
    assert signed == "host;x-amz-date"
    assert signature == expected


def test_signing_key_matches_aws_documentation() -> None:
    key = sigv4.signing_key(AWS_SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


FIXED_NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
FIXED_CREDENTIALS = Credentials("AKTPabc", "sec/ret+", "tok en  x")
FIXED_PARAMS = {
    "Action": "ApplyImageUpload",
    "Version": "2018-08-01",
    "ServiceId": "tb4s082cfz",
    "FileSize": "123",
    "s": "a b/é~*",
}


def test_known_apply_signature() -> None:
    headers = sign_request(
        method="GET",
        url="https://imagex.bytedanceapi.com/",
        params=FIXED_PARAMS,
        body=None,
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
    )
    assert headers == {
        "x-amz-date": "20240506T070809Z",
        "x-amz-security-token": "tok en  x",
        "Authorization": "AWS4-HMAC-SHA256 "
        "Credential=AKTPabc/20240506/cn-north-1/imagex/aws4_request, "
        "SignedHeaders=x-amz-date;x-amz-security-token, "
        "Signature=c56f5bd58d8064a7a49508672220e71bceea65ef042437249004e0c7b13dce92",
    }


def test_known_commit_signature() -> None:
    headers = sign_request(
        method="POST",
        url="https://imagex.bytedanceapi.com/",
        params=FIXED_PARAMS,
        body=b'{"SessionKey":"x"}',
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
        include_content_sha256=True,
    )
    assert headers["Authorization"].endswith(
        "SignedHeaders=x-amz-content-sha256;x-amz-date;x-amz-security-token, "
        "Signature=aea7a17d843f063fffdd9a407388933a610102e8e8a4a017c68a96d3964142ae"
    )


def test_get_payload_hash_is_the_empty_string_hash() -> None:
    headers = sign_request(
        method="GET",
        url="https://imagex.bytedanceapi.com/",
        params={},
        body=None,
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
        include_content_sha256=True,
    )
    assert headers["x-amz-content-sha256"] == sigv4.EMPTY_SHA256


def test_query_in_url_is_refused() -> None:
    with pytest.raises(ValueError, match="params"):
        sign_request(
            method="GET",
            url="https://imagex.bytedanceapi.com/?Action=x",
            params={},
            body=None,
            credentials=FIXED_CREDENTIALS,
            region="cn-north-1",
            now=FIXED_NOW,
        )


def test_credentials_repr_hides_secrets() -> None:
    credentials = Credentials("AKTPvisible", "very-secret-key", "session-token-value")
    text = repr(credentials) + str(credentials)
    assert "AKTPvisible" in text
    assert "very-secret-key" not in text
    assert "session-token-value" not in text


# -- verification ------------------------------------------------------------------------------


def signed_post(
    body: bytes = b'{"SessionKey":"abc"}', params: Mapping[str, str] = FIXED_PARAMS
) -> dict[str, str]:
    return sign_request(
        method="POST",
        url="https://imagex.bytedanceapi.com/",
        params=params,
        body=body,
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
        include_content_sha256=True,
    )


def verify(headers: Mapping[str, str], **changes: Any) -> sigv4.Authorization:
    kwargs: dict[str, Any] = {
        "method": "POST",
        "path": "/",
        "params": FIXED_PARAMS,
        "headers": headers,
        "body": b'{"SessionKey":"abc"}',
        "secret_access_key": FIXED_CREDENTIALS.secret_access_key,
        "region": "cn-north-1",
        "now": FIXED_NOW + timedelta(minutes=3),
        "required_headers": POST_SIGNED_HEADERS,
    }
    kwargs.update(changes)
    return verify_request(**kwargs)


def test_verify_accepts_what_sign_request_produced() -> None:
    auth = verify(signed_post())
    assert auth.access_key_id == "AKTPabc"
    assert (auth.date, auth.region, auth.service) == ("20240506", "cn-north-1", "imagex")
    assert auth.signed_headers == POST_SIGNED_HEADERS
    assert "signature" not in repr(auth)


def test_verify_accepts_headers_in_any_case_and_pairs_as_params() -> None:
    headers = {name.upper(): value for name, value in signed_post().items()}
    assert verify(headers, params=list(FIXED_PARAMS.items())).region == "cn-north-1"


@settings(max_examples=100, deadline=None)
@given(credentials=credentials_st, params=params_st, body=st.binary(max_size=100), now=moments)
def test_verify_round_trips_random_requests(
    credentials: Credentials, params: dict[str, str], body: bytes, now: datetime
) -> None:
    headers = sign_request(
        method="POST",
        url="http://127.0.0.1:9/",
        params=params,
        body=body,
        credentials=credentials,
        region="us-east-1",
        now=now,
        include_content_sha256=True,
    )
    auth = verify_request(
        method="POST",
        path="/",
        params=params,
        headers=headers,
        body=body,
        secret_access_key=credentials.secret_access_key,
        region="us-east-1",
        now=now,
        required_headers=POST_SIGNED_HEADERS,
    )
    assert auth.access_key_id == credentials.access_key_id


def test_tampered_signature_is_rejected() -> None:
    headers = signed_post()
    signature = headers["Authorization"][-64:]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    headers["Authorization"] = headers["Authorization"][:-64] + flipped
    with pytest.raises(sigv4.SignatureMismatchError) as info:
        verify(headers)
    assert info.value.code == "SignatureDoesNotMatch"


def test_changed_param_is_rejected() -> None:
    with pytest.raises(sigv4.SignatureMismatchError):
        verify(signed_post(), params={**FIXED_PARAMS, "FileSize": "124"})


def test_changed_body_is_rejected() -> None:
    headers = signed_post()
    with pytest.raises(sigv4.ContentHashMismatchError) as info:
        verify(headers, body=b'{"SessionKey":"abd"}')
    assert info.value.code == "XAmzContentSHA256Mismatch"
    # A forger who also fixes the hash header still fails the signature.
    headers["x-amz-content-sha256"] = hashlib.sha256(b'{"SessionKey":"abd"}').hexdigest()
    with pytest.raises(sigv4.SignatureMismatchError):
        verify(headers, body=b'{"SessionKey":"abd"}')


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(sigv4.SignatureMismatchError):
        verify(signed_post(), secret_access_key="another-secret")


def test_changed_session_token_is_rejected() -> None:
    headers = signed_post()
    headers["x-amz-security-token"] = "tok en x2"
    with pytest.raises(sigv4.SignatureMismatchError):
        verify(headers)


def test_wrong_region_or_service_is_a_scope_error() -> None:
    with pytest.raises(sigv4.CredentialScopeError, match="region"):
        verify(signed_post(), region="us-east-1")
    with pytest.raises(sigv4.CredentialScopeError, match="service"):
        verify(signed_post(), service="s3")


def test_skewed_clock_is_rejected() -> None:
    with pytest.raises(sigv4.RequestTimeTooSkewedError) as info:
        verify(signed_post(), now=FIXED_NOW + timedelta(minutes=16))
    assert info.value.code == "RequestTimeTooSkewed"
    assert verify(signed_post(), now=FIXED_NOW - timedelta(minutes=14))


def test_required_header_must_be_signed() -> None:
    headers = sign_request(
        method="POST",
        url="https://imagex.bytedanceapi.com/",
        params=FIXED_PARAMS,
        body=b'{"SessionKey":"abc"}',
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
    )
    with pytest.raises(sigv4.MalformedAuthorizationError, match="x-amz-content-sha256"):
        verify(headers)


def test_signed_header_must_be_sent() -> None:
    headers = signed_post()
    del headers["x-amz-security-token"]
    with pytest.raises(sigv4.MalformedAuthorizationError, match="x-amz-security-token"):
        verify(headers)


def test_scope_date_must_match_x_amz_date() -> None:
    headers = signed_post()
    headers["x-amz-date"] = "20240507T070809Z"
    with pytest.raises(sigv4.CredentialScopeError, match="date"):
        verify(headers, now=datetime(2024, 5, 7, 7, 8, 9, tzinfo=timezone.utc))


def test_missing_authorization() -> None:
    headers = signed_post()
    del headers["Authorization"]
    with pytest.raises(sigv4.MissingAuthorizationError) as info:
        verify(headers)
    assert info.value.code == "MissingAuthenticationToken"


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA1 Credential=a/20240506/cn-north-1/imagex/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/20240506/cn-north-1/imagex, "
        "SignedHeaders=x-amz-date, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/20240506/cn-north-1/imagex/aws4_request, "
        "SignedHeaders=x-amz-date",
        "AWS4-HMAC-SHA256 Credential=a/20240506/cn-north-1/imagex/aws4_request, "
        "SignedHeaders=x-amz-security-token;x-amz-date, Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/20240506/cn-north-1/imagex/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=XYZ",
        "AWS4-HMAC-SHA256 Credential=a/20240506/cn-north-1/imagex/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=" + "0" * 64 + ", Extra=1",
    ],
)
def test_malformed_authorization_is_rejected(header: str) -> None:
    with pytest.raises(sigv4.MalformedAuthorizationError) as info:
        parse_authorization(header)
    assert info.value.code == "IncompleteSignature"


def test_parse_authorization_of_a_signed_request() -> None:
    auth = parse_authorization(signed_post()["Authorization"])
    assert auth.access_key_id == "AKTPabc"
    assert auth.signed_headers == ("x-amz-content-sha256", "x-amz-date", "x-amz-security-token")
    assert len(auth.signature) == 64


# -- exact answers: the emulator sends these texts back, as AWS does ------------------------

_SCOPE = "Credential=a/20240506/cn-north-1/imagex/aws4_request"
_SIGNATURE = "Signature=" + "0" * 64


@pytest.mark.parametrize(
    ("header", "error", "message"),
    [
        (None, sigv4.MissingAuthorizationError, "the request has no Authorization header"),
        ("", sigv4.MissingAuthorizationError, "the request has no Authorization header"),
        (
            f"AWS4-HMAC-SHA1 {_SCOPE}, SignedHeaders=x-amz-date, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "Authorization must start with AWS4-HMAC-SHA256",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, junk, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "Authorization has a malformed part 'junk'",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, {_SCOPE}, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "Authorization has a malformed part 'Credential'",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=x-amz-date, Sig=1",
            sigv4.MalformedAuthorizationError,
            "Authorization needs exactly Credential, SignedHeaders and Signature",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=x-amz-date, {_SIGNATURE}, Extra=1",
            sigv4.MalformedAuthorizationError,
            "Authorization needs exactly Credential, SignedHeaders and Signature",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=a//cn-north-1/imagex/aws4_request, "
            f"SignedHeaders=x-amz-date, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "Credential must be <key>/<YYYYMMDD>/<region>/<service>/aws4_request",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential=a/20240506/cn-north-1/imagex/aws4, "
            f"SignedHeaders=x-amz-date, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "Credential must be <key>/<YYYYMMDD>/<region>/<service>/aws4_request",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=x-amz-date;;host, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "SignedHeaders must be sorted lower-case header names",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=X-Amz-Date, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "SignedHeaders must be sorted lower-case header names",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=x-amz-date;x-amz-date, {_SIGNATURE}",
            sigv4.MalformedAuthorizationError,
            "SignedHeaders must be sorted lower-case header names",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=x-amz-date, Signature=" + "X" * 64,
            sigv4.MalformedAuthorizationError,
            "Signature must be 64 lower-case hex digits",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=x-amz-date, Signature=" + "A" * 64,
            sigv4.MalformedAuthorizationError,
            "Signature must be 64 lower-case hex digits",
        ),
        (
            f"AWS4-HMAC-SHA256 {_SCOPE}, SignedHeaders=x-amz-date, Signature=" + "a" * 63,
            sigv4.MalformedAuthorizationError,
            "Signature must be 64 lower-case hex digits",
        ),
    ],
)
def test_parse_authorization_names_the_problem_exactly(
    header: str | None, error: type[sigv4.SigV4Error], message: str
) -> None:
    with pytest.raises(error) as info:
        parse_authorization(header)
    assert type(info.value) is error
    assert str(info.value) == message


def test_parse_authorization_splits_each_part_at_its_first_equals_sign() -> None:
    auth = parse_authorization(
        f"AWS4-HMAC-SHA256 Credential=k=1/20240506/r/s/aws4_request, SignedHeaders=a;b, "
        f"Signature={'f' * 64}"
    )
    assert (auth.access_key_id, auth.date, auth.region, auth.service) == (
        "k=1",
        "20240506",
        "r",
        "s",
    )
    assert auth.signed_headers == ("a", "b")
    assert auth.signature == "f" * 64


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("", "/"),
        ("/", "/"),
        ("a/b", "a/b"),
        ("/a/./b/../c/", "/a/c/"),
        ("/../..", "/"),
        ("//a//b", "/a/b"),
        ("/a b/~x/é", "/a%20b/~x/%C3%A9"),
    ],
)
def test_canonical_uri(path: str, canonical: str) -> None:
    assert sigv4.canonical_uri(path) == canonical


def test_query_inside_the_url_is_refused_with_this_message() -> None:
    with pytest.raises(ValueError, match=r"^pass the query as params, not inside the url$"):
        sign_request(
            method="GET",
            url="https://imagex.bytedanceapi.com/?Action=x",
            params={},
            body=None,
            credentials=FIXED_CREDENTIALS,
            region="cn-north-1",
            now=FIXED_NOW,
        )


@pytest.mark.parametrize("value", ["2024-05-06T07:08:09Z", "20240506T070809", "20240506T7089Z"])
def test_a_malformed_x_amz_date_is_named(value: str) -> None:
    headers = signed_post()
    headers["x-amz-date"] = value
    with pytest.raises(sigv4.MalformedAuthorizationError) as info:
        verify(headers)
    assert str(info.value) == "x-amz-date must be YYYYMMDD'T'HHMMSS'Z'"


def test_verify_names_every_problem_exactly() -> None:
    unsigned = sign_request(
        method="POST",
        url="https://imagex.bytedanceapi.com/",
        params=FIXED_PARAMS,
        body=b'{"SessionKey":"abc"}',
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
    )
    cases: list[tuple[dict[str, str], dict[str, Any], type[sigv4.SigV4Error], str]] = [
        (
            unsigned,
            {"required_headers": ("x-amz-content-sha256", "host", "x-amz-date")},
            sigv4.MalformedAuthorizationError,
            "SignedHeaders must include x-amz-content-sha256, host",
        ),
        (
            {k: v for k, v in signed_post().items() if not k.startswith("x-amz-")},
            {},
            sigv4.MalformedAuthorizationError,
            "signed header(s) not sent: x-amz-content-sha256, x-amz-date, x-amz-security-token",
        ),
        (
            signed_post(),
            {"required_headers": ()} | {"body": b"other"},
            sigv4.ContentHashMismatchError,
            "x-amz-content-sha256 does not match the SHA-256 of the body",
        ),
        (
            {**signed_post(), "x-amz-security-token": "changed"},
            {},
            sigv4.SignatureMismatchError,
            "the request signature we calculated does not match the signature you provided",
        ),
        (
            signed_post(),
            {"region": "us-east-1"},
            sigv4.CredentialScopeError,
            "Credential should be scoped to a valid region: 'us-east-1', not 'cn-north-1'",
        ),
        (
            signed_post(),
            {"service": "s3"},
            sigv4.CredentialScopeError,
            "Credential should be scoped to the correct service: 's3', not 'imagex'",
        ),
        (
            {**signed_post(), "x-amz-date": "20240507T070809Z"},
            {"now": datetime(2024, 5, 7, 7, 8, 9, tzinfo=timezone.utc)},
            sigv4.CredentialScopeError,
            "the date in the Credential scope does not match the date of x-amz-date",
        ),
        (
            signed_post(),
            {"now": FIXED_NOW + timedelta(seconds=901), "max_skew": 900},
            sigv4.RequestTimeTooSkewedError,
            "x-amz-date 20240506T070809Z is more than 900 s from the server time 20240506T072310Z",
        ),
    ]
    for headers, changes, error, message in cases:
        with pytest.raises(error) as info:
            verify(headers, **changes)
        assert type(info.value) is error
        assert str(info.value) == message


def test_a_signed_x_amz_date_header_must_be_present() -> None:
    headers = sign_request(
        method="POST",
        url="https://imagex.bytedanceapi.com/",
        params=FIXED_PARAMS,
        body=b'{"SessionKey":"abc"}',
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
        include_content_sha256=True,
    )
    # Signed over only the token: x-amz-date is neither required nor sent.
    headers["Authorization"] = headers["Authorization"].replace(
        "SignedHeaders=x-amz-content-sha256;x-amz-date;x-amz-security-token",
        "SignedHeaders=x-amz-security-token",
    )
    del headers["x-amz-date"]
    with pytest.raises(sigv4.MalformedAuthorizationError) as info:
        verify(headers, required_headers=())
    assert str(info.value) == "the request has no x-amz-date header"


def test_the_skew_limit_is_inclusive_and_a_naive_now_is_utc() -> None:
    exactly = FIXED_NOW + timedelta(seconds=sigv4.MAX_CLOCK_SKEW)
    assert verify(signed_post(), now=exactly)
    assert verify(signed_post(), now=FIXED_NOW - timedelta(seconds=sigv4.MAX_CLOCK_SKEW))
    naive = (FIXED_NOW + timedelta(seconds=sigv4.MAX_CLOCK_SKEW + 1)).replace(tzinfo=None)
    with pytest.raises(sigv4.RequestTimeTooSkewedError):
        verify(signed_post(), now=naive)
    assert verify(signed_post(), now=None)  # no clock: no skew check


def test_verify_signs_over_the_path_it_is_given() -> None:
    headers = sign_request(
        method="PUT",
        url="https://imagex.bytedanceapi.com/upload/a b",
        params={},
        body=b"x",
        credentials=FIXED_CREDENTIALS,
        region="cn-north-1",
        now=FIXED_NOW,
    )
    kwargs: dict[str, Any] = {
        "method": "put",
        "params": {},
        "headers": headers,
        "body": b"x",
        "secret_access_key": FIXED_CREDENTIALS.secret_access_key,
        "region": "cn-north-1",
    }
    assert verify_request(path="/upload/a b", **kwargs).region == "cn-north-1"
    with pytest.raises(sigv4.SignatureMismatchError):
        verify_request(path="/", **kwargs)


def test_amz_date_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        shanghai = timezone(timedelta(hours=8))
        assert amz_date(datetime(2024, 5, 6, 15, 8, 9, tzinfo=shanghai)) == "20240506T070809Z"
        assert amz_date(datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)) == "20240506T070809Z"
    finally:
        monkeypatch.undo()
        time.tzset()
