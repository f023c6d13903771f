"""The registry of policies: ``POLICIES`` maps each policy's name to its class."""

from __future__ import annotations

from ._base import Allocator
from .best_fit import BestFit
from .bitmap import Bitmap
from .buddy import Buddy
from .first_fit import FirstFit
from .next_fit import NextFit
from .tlsf import TLSF

__all__ = ["DEFAULT_POLICY", "POLICIES", "create", "policy_class", "policy_named"]

#: Every policy by name, in the order the docs list them.
POLICIES: dict[str, type[Allocator]] = {
    cls.name: cls for cls in (FirstFit, NextFit, BestFit, Bitmap, TLSF, Buddy)
}

#: The policy ``Heap`` uses unless told otherwise (O(1) whatever the number of
#: blocks; a later issue chooses it by measurement).
DEFAULT_POLICY = "tlsf"


def create(policy: str, capacity: int) -> Allocator:
    """Make an allocator of the named policy over ``[0, capacity)``.

    Raises ``ValueError`` for an unknown name (the message lists the known
    ones), ``TypeError`` if ``policy`` is not a str.

    >>> create("next-fit", 256)
    NextFit(capacity=256, used=0, blocks=0)
    """
    if not isinstance(policy, str):
        raise TypeError(f"policy must be a str, got {type(policy).__name__} {policy!r}")
    return policy_named(policy)(capacity)


def policy_named(name: str) -> type[Allocator]:
    """The registered class of the policy ``name``; ``ValueError`` listing the known names.

    >>> policy_named("tlsf").__name__
    'TLSF'
    """
    cls = POLICIES.get(name)
    if cls is None:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}")
    return cls


def policy_class(policy: object) -> type[Allocator]:
    """The class a ``policy=`` argument means: a registered name or an ``Allocator`` subclass.

    Raises ``ValueError`` for an unknown name, ``TypeError`` for anything else
    (both naming the value).
    """
    if isinstance(policy, str):
        return policy_named(policy)
    if isinstance(policy, type) and issubclass(policy, Allocator):
        return policy
    raise TypeError(
        f"policy must be a policy name or an Allocator subclass, got {type(policy).__name__} {policy!r}"
    )
