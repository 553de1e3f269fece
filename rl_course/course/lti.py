"""The login from an LMS: LTI 1.3, through JupyterHub's own ``ltiauthenticator``.

A course page of the LMS (Canvas, Moodle, …) links to the hub; the LMS signs each launch with its key, the hub checks
the signature against the LMS's published keys (JWKS), the expiry, the audience (the hub's client id) and the nonce,
and logs the person in under the LMS's user id (``sub``). A launch that fails a check is refused with the reason
(``CourseLaunch``).

The LMS's side, registered once: the tool's login URL ``<hub>/hub/lti13/oauth_login``, its redirect URL
``<hub>/hub/lti13/oauth_callback``, its target link ``<hub>/hub/user-redirect/lab``; the hub's side, from the LMS:
the issuer, the client id, the authorization URL and the JWKS URL (``deploy/jupyterhub/jupyterhub_config.py``).
"""

from __future__ import annotations

from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler
from tornado.web import HTTPError

GRADERS_GROUP, STUDENTS_GROUP = "formgrade-rl-course", "nbgrader-rl-course"  # nbgrader's names for a course's groups
ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
GRADING_ROLES = ("#Instructor", "#TeachingAssistant")  # LIS membership roles, e.g. …/membership#Instructor


class CourseLaunch(LTI13CallbackHandler):
    """The LMS's launch, as ltiauthenticator checks it; a refused one says why and what to do, on the hub's error
    page (JupyterHub shows an error's ``jupyterhub_message``)."""

    async def post(self):
        try:
            await super().post()
        except HTTPError as error:
            error.jupyterhub_message = (f"The hub could not verify this launch from your course page "
                                        f"({error.log_message}). Open the course again from the LMS; if this page "
                                        f"comes back, tell your instructor.")
            raise


class CourseLTI(LTI13Authenticator):
    """LTI 1.3 with the LMS's user id as the hub user, who joins nbgrader's group of the course's graders when the
    LMS says they teach it (Instructor, TeachingAssistant) or the hub names them an admin, else the group of those who
    take it."""

    login_service = "your course page"
    callback_handler = CourseLaunch

    def get_custom_html(self, base_url):
        """The hub's login page: where the way in is, since the hub has no password of its own."""
        return ('<div class="service-login"><p>This course opens from its page in your LMS: follow the link to it '
                'there. The hub has no password of its own.</p></div>')

    async def authenticate(self, handler, data=None):
        user = await super().authenticate(handler, data)
        teaches = any(role.endswith(GRADING_ROLES) for role in (data or {}).get(ROLES, []))
        return {**user, "groups": [GRADERS_GROUP if teaches or user["name"] in self.admin_users else STUDENTS_GROUP]}
