"""Who may use the web interface, and the headers and tokens that keep a browser safe.

Owns: the login secrets (a token or a PBKDF2 password hash, read from the environment
variables the config names), the refusal to serve a non-loopback address without them,
session cookies signed with a per-process key, CSRF tokens bound to a cookie (checked on
every POST by `checked_form`), and the security headers of every response (a
Content-Security-Policy without inline script, no framing, no sniffing, no referrer).
Must not render pages or query the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.config.http import HttpSettings, is_loopback, split_listen
from monitor.errors import ConfigError

SESSION_COOKIE = "monitor_session"
CSRF_COOKIE = "monitor_csrf"
SESSION_SECONDS = 12 * 3600
PBKDF2_ROUNDS = 310_000
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "x-frame-options": "DENY",
           "referrer-policy": "no-referrer", "cross-origin-opener-policy": "same-origin"}


def hash_password(password: str, salt: bytes | None = None, rounds: int = PBKDF2_ROUNDS) -> str:
    """`pbkdf2_sha256$ROUNDS$SALT$HASH` (base64), what password_hash_env's variable holds."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${rounds}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        scheme, rounds, salt, digest = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(rounds))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


@dataclass
class Guard:
    """The login secrets and the per-process signing key."""

    token: str | None = None
    password_hash: str | None = None
    open_health: bool = False
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def required(self) -> bool:
        return bool(self.token or self.password_hash)

    def accepts(self, secret: str) -> bool:
        if self.token and hmac.compare_digest(secret.encode(), self.token.encode()):
            return True
        return bool(self.password_hash and check_password(secret, self.password_hash))

    def sign(self, value: str) -> str:
        return hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()

    def session(self, now: float | None = None) -> str:
        expires = str(int((now or time.time()) + SESSION_SECONDS))
        return f"{expires}.{self.sign('session:' + expires)}"

    def valid_session(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie or "." not in cookie:
            return False
        expires, sig = cookie.split(".", 1)
        return (expires.isdigit() and int(expires) > (now or time.time())
                and hmac.compare_digest(sig, self.sign("session:" + expires)))

    def authorised(self, request: Request) -> bool:
        if not self.required:
            return True
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and self.accepts(bearer[7:].strip()):
            return True
        return self.valid_session(request.cookies.get(SESSION_COOKIE))

    def csrf_token(self, request: Request) -> str:
        return self.sign("csrf:" + csrf_cookie(request))


def guard_for(http: HttpSettings, environ: dict[str, str] | None = None) -> Guard:
    """The guard for a config; ConfigError when a non-loopback address would be served unprotected."""
    env = os.environ if environ is None else environ
    token = env.get(http.token_env) if http.token_env else None
    pw_hash = env.get(http.password_hash_env) if http.password_hash_env else None
    if pw_hash and not pw_hash.startswith("pbkdf2_sha256$"):
        raise ConfigError(f"http.password_hash_env: ${http.password_hash_env} does not hold a hash from "
                          "`monitor web-password`")
    guard = Guard(token=token or None, password_hash=pw_hash or None, open_health=http.open_health)
    host, _ = split_listen(http.listen)
    if not is_loopback(host) and not guard.required:
        names = " or ".join(f"${n}" for n in (http.token_env, http.password_hash_env) if n) or \
            "http.token_env or http.password_hash_env (none is configured)"
        raise ConfigError(f"http.listen {http.listen} is not a loopback address: the web interface needs a login "
                          f"secret there, and {names} is not set; refusing to start")
    return guard


def csrf_cookie(request: Request) -> str:
    """The browser's CSRF cookie, or the fresh one the middleware will set on this response."""
    return request.cookies.get(CSRF_COOKIE) or request.state.new_csrf


async def checked_form(request: Request) -> FormData:
    """The POSTed form after its CSRF token was checked against the cookie; 403 otherwise."""
    form = await request.form()
    guard: Guard = request.app.state.guard
    sent = str(form.get("csrf") or "")
    if not request.cookies.get(CSRF_COOKIE) or not hmac.compare_digest(sent, guard.csrf_token(request)):
        raise HTTPException(403, "missing or stale form token: reload the page and try again")
    return form


OPEN_PATHS = ("/login", "/static/")
HEALTH_PATHS = ("/healthz", "/metrics")


class SecurityMiddleware(BaseHTTPMiddleware):
    """Login check, CSRF cookie and security headers around every request."""

    async def dispatch(self, request: Request, call_next) -> Response:
        guard: Guard = request.app.state.guard
        request.state.new_csrf = "" if request.cookies.get(CSRF_COOKIE) else secrets.token_urlsafe(24)
        path = request.url.path
        open_path = path.startswith(OPEN_PATHS) or (guard.open_health and path in HEALTH_PATHS)
        if not open_path and not guard.authorised(request):
            if request.method == "GET" and path not in HEALTH_PATHS and not path.endswith((".atom", ".json")):
                response: Response = RedirectResponse("/login", status_code=303)
            else:
                response = Response("login required\n", status_code=401, media_type="text/plain",
                                    headers={"www-authenticate": "Bearer"})
        else:
            response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        if request.state.new_csrf:
            response.set_cookie(CSRF_COOKIE, request.state.new_csrf, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
        return response
