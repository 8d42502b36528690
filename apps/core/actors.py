"""Who did it. Services are given an actor: a User, an API principal (e.g. a shop token), or None
for the system itself (schedules, automatic rules), which may do anything a service allows."""
from django.contrib.auth.base_user import AbstractBaseUser

SYSTEM_LABEL = "system"


def actor_user(actor):
    """The User to store in an `actor` foreign key, or None for the system and API principals."""
    return actor if isinstance(actor, AbstractBaseUser) and actor.pk else None


def actor_label(actor) -> str:
    if actor is None:
        return SYSTEM_LABEL
    if isinstance(actor, AbstractBaseUser):
        return actor.get_username()
    return getattr(actor, "label", str(actor))


def actor_has_perm(actor, perm: str) -> bool:
    return actor is None or actor.has_perm(perm)
