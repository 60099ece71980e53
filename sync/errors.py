"""Typed sync refusals and faults, with messages a shopkeeper (or a township clerk) can act on.

The HTTP status travels with the code, so the server and the client agree on what a refusal means:
4xx is "this request will never succeed as it is" (nothing stored), 409 is a conflict the township
must look at, 5xx and network errors are "try again later".
"""

from __future__ import annotations

from ledger.messages import N_, CodedError

# code -> HTTP status. The words are the catalogues' (``locale/``): the code is the message id (N_ marks it,
# since a refusal is often made from a code read off the wire).
STATUS: dict[str, int] = {
    N_("payload_malformed"): 400,
    N_("payload_too_large"): 413,
    N_("version_unsupported"): 400,
    N_("token_missing"): 401,
    N_("token_invalid"): 401,
    N_("admin_required"): 401,
    N_("wrong_shop"): 403,
    N_("enrol_invalid"): 401,
    N_("conflict"): 409,
    N_("not_found"): 404,
    N_("invalid"): 422,
    N_("unreachable"): 503,
    N_("server_error"): 503,
    N_("not_provisioned"): 400,
    N_("too_many_refusals"): 429,
    N_("value_refused"): 422,
    N_("value_conflict"): 409,
    N_("plain_http_refused"): 400,
    N_("bundle_invalid"): 400,
    # the township console's people (sync.server.people, ledger.access)
    N_("forbidden"): 403,
    N_("sign_in_failed"): 401,
    N_("sign_in_locked"): 429,
    N_("csrf_failed"): 403,
    N_("user_exists"): 409,
    N_("last_admin"): 409,
    N_("password_short"): 422,
    N_("password_long"): 422,
    N_("password_weak"): 422,
    N_("passwords_differ"): 422,
    N_("pdf_unavailable"): 503,
}


class SyncError(CodedError):
    """A sync refusal or fault with a stable ``code``, an HTTP ``status`` and a message for people."""

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 500)

    @property
    def retryable(self) -> bool:
        """Worth trying again later (network down, server busy), as opposed to refused for good."""
        return self.status >= 500
