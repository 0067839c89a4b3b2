"""The model registry's one error."""

from __future__ import annotations


class UnknownModelError(LookupError):
    """A model no one registered (a request's name, or a ref a worker cannot find in the registry);
    the message says which, and lists the known ones where it can."""
