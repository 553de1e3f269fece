"""A learning platform of the tests' own, on loopback: the LMS side of an LTI 1.3 launch, as Canvas or Moodle play it.

It publishes the public half of its RSA key as a JWKS (``/jwks``), starts a launch from a course page (``/launch``:
the OIDC login initiation, a form posted to the tool's login URL) and answers the tool's authorization request
(``/authorize``) with an ``id_token`` it signs, posted back to the tool's redirect URL. A launch can be forged
(signed with a key the platform never published, under its key's id) or expired (issued and expired an hour ago).
No network: everything is on 127.0.0.1.
"""

from __future__ import annotations

import html
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "rl-course-hub"
DEPLOYMENT_ID = "1"
KEY_ID = "platform-key-1"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


class Platform:
    """The platform, serving in a thread from ``start`` until ``stop``; ``tool`` is the hub's URL."""

    def __init__(self, tool: str):
        self.tool = tool
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # never published
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Platform:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def settings(self) -> dict:
        """What the tool is given of the platform (the hub's RL_COURSE_LTI_* variables)."""
        return {"RL_COURSE_LTI_ISSUER": self.url, "RL_COURSE_LTI_CLIENT_ID": CLIENT_ID,
                "RL_COURSE_LTI_AUTHORIZE_URL": f"{self.url}/authorize", "RL_COURSE_LTI_JWKS_URL": f"{self.url}/jwks"}

    def launch_url(self, user: str, how: str = "signed", role: str = LEARNER) -> str:
        """The course page's link to the hub for ``user`` (the platform's user id) in ``role``: ``how`` is "signed",
        "forged" or "expired"."""
        return f"{self.url}/launch?{urlencode({'user': user, 'how': how, 'role': role})}"

    def jwks(self) -> dict:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}

    def id_token(self, user: str, nonce: str, how: str, role: str) -> str:
        """The launch's signed claims: an LtiResourceLinkRequest of the course's resource link, for ``user``."""
        now = int(time.time()) - (3600 if how == "expired" else 0)
        claims = {
            "iss": self.url, "aud": CLIENT_ID, "sub": user, "nonce": nonce, "iat": now, "exp": now + 300,
            "name": f"Student {user}", f"{CLAIM}message_type": "LtiResourceLinkRequest", f"{CLAIM}version": "1.3.0",
            f"{CLAIM}deployment_id": DEPLOYMENT_ID, f"{CLAIM}target_link_uri": f"{self.tool}/hub/user-redirect/lab",
            f"{CLAIM}resource_link": {"id": "rl-course-assignments", "title": "Assignments"},
            f"{CLAIM}roles": [role],
            f"{CLAIM}context": {"id": "rl-101", "label": "RL 101", "title": "Credit assignment in RL"},
        }
        key = self.foreign_key if how == "forged" else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})


def _form(action: str, fields: dict) -> bytes:
    """A page that posts ``fields`` to ``action`` as soon as it loads, as platforms do."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items())
    return (f'<!doctype html><html><body onload="document.forms[0].submit()"><p>Opening the course…</p>'
            f'<form method="post" action="{html.escape(action)}">{inputs}</form></body></html>').encode()


def _handler(platform: Platform):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/jwks":
                self._send(200, json.dumps(platform.jwks()).encode(), "application/json")
            elif url.path == "/launch":  # OIDC login initiation, from the course page
                self._send(200, _form(f"{platform.tool}/hub/lti13/oauth_login", {
                    "iss": platform.url, "login_hint": query["user"], "client_id": CLIENT_ID,
                    "target_link_uri": f"{platform.tool}/hub/user-redirect/lab", "lti_deployment_id": DEPLOYMENT_ID,
                    "lti_message_hint": json.dumps({"how": query.get("how", "signed"), "role": query.get("role", LEARNER)})}))
            elif url.path == "/authorize":  # the tool's authentication request: the id_token, posted back
                if query.get("client_id") != CLIENT_ID or not query.get("redirect_uri", "").startswith(platform.tool):
                    self._send(400, b"unknown tool")
                    return
                hint = json.loads(query.get("lti_message_hint", "{}"))
                token = platform.id_token(query["login_hint"], query["nonce"], hint.get("how", "signed"), hint.get("role", LEARNER))
                self._send(200, _form(query["redirect_uri"], {"id_token": token, "state": query["state"]}))
            else:
                self._send(404, b"not found")

        def _send(self, status: int, body: bytes, kind: str = "text/html; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    return Handler


def new_user_id() -> str:
    """A user id as an LMS gives one (Canvas: a UUID)."""
    return str(uuid.uuid4())
