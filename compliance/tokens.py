"""The per-lead unsubscribe token every outgoing message carries (PRODUCT A5, RFC 8058).

Signed with SECRET_KEY (SECRET_KEY_FALLBACKS keeps old links working across a rotation)
under a salt of its own, so no other signed value of the project is accepted as one. It holds
the workspace and lead ids, never an email address, and does not expire: an unsubscribe link
has to keep working for as long as the message is in someone's mailbox.
"""

from django.core import signing

SALT = "leadcrm.compliance.unsubscribe"


def unsubscribe_token(*, workspace_id: int, lead_id: int) -> str:
    return signing.dumps([workspace_id, lead_id], salt=SALT)


def unsubscribe_token_read(token: str) -> tuple[int, int] | None:
    """(workspace id, lead id), or None for anything not signed by us."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return None
    return value[0], value[1]
