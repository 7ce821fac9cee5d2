"""Redaction of secrets from text: log records, error messages, URLs.

`redact_text` removes what a log line or message could carry by accident: Cookie headers and
session cookie values, Sign and Authorization values, AWS-style credentials, signed query
strings and `user:password@` in URLs, plus every secret registered by a live session (its token
and session id). `RedactingFilter` applies it to log records; at import the library installs it
on its own logger and on the httpx and httpcore loggers, whose DEBUG lines show response
`set-cookie` headers and signed URLs.
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "<redacted>"

#: Loggers the filter is installed on at import: ours, and httpx's and httpcore's (a filter on
#: a logger does not reach its children, so httpcore's are named one by one).
FILTERED_LOGGERS = (
    "jimeng_async",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # URLs: credentials and query strings (signed CDN links, upload addresses)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@'\"]*:[^/\s@'\"]*@"), r"\1"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s?#'\"]*)\?[^\s#'\"]*"), r"\1?…"),
    # headers as text ("Cookie: ...") and as httpcore's byte tuples ((b'cookie', b'...'))
    (
        re.compile(
            r"(?i)((?:set-)?cookie|sign|authorization|x-amz-security-token)"
            r"('?,\s*b?'|\"?\s*[:=]\s*\"?)[^'\"\r\n]+"
        ),
        r"\1\2" + REDACTED,
    ),
    # cookie fields and signing material anywhere else
    (
        re.compile(
            r"(?i)\b(sessionid(?:_ss)?|sid_tt|sid_guard|uid_tt(?:_ss)?|session_token|"
            r"secret_access_key|access_key_id|signature|credential|x-signature)"
            r"(['\"]?\s*[:=]\s*['\"]?)[^;&,\s'\"]+"
        ),
        r"\1\2" + REDACTED,
    ),
)

_secrets: dict[str, int] = {}
_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Redact `secret` wherever it appears, until `forget_secret` (counted: sessions share)."""
    if len(secret) < 4:
        return  # too short to search for without redacting ordinary text
    with _lock:
        _secrets[secret] = _secrets.get(secret, 0) + 1


def forget_secret(secret: str) -> None:
    """Undo one `register_secret`."""
    with _lock:
        count = _secrets.get(secret, 0) - 1
        if count > 0:
            _secrets[secret] = count
        else:
            _secrets.pop(secret, None)


def redact_text(text: str) -> str:
    """`text` with every known kind of secret replaced by `<redacted>`."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message with `redact_text`.

    Installed on the library's logger and on httpx's and httpcore's; add it to your own
    handlers too if you log request details elsewhere.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for logging's own error report
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_FILTER = RedactingFilter()


def install(names: tuple[str, ...] = FILTERED_LOGGERS) -> None:
    """Put the shared `RedactingFilter` on the named loggers (once each)."""
    for name in names:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


def enable_debug_logging(level: int = logging.DEBUG) -> logging.Handler:
    """Log the library (only `jimeng_async`, not the root logger) to stderr: the CLI's `-v`."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    handler.addFilter(_FILTER)
    library = logging.getLogger("jimeng_async")
    library.setLevel(level)
    library.addHandler(handler)
    return handler
