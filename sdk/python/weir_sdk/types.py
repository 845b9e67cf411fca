"""The contract's data types (`weir:connector/types`), as componentize-py
generates them from `wit/` for the component's world."""

from wit_world.imports.types import *  # noqa: F401,F403
