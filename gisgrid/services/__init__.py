"""The use cases: every operation the office does is one function that takes the actor,
asks the policy (policy.py) and runs in one database transaction with its audit rows.
Adapters (the web blueprints, the command line) call these and never touch storage to change
anything."""

from .policy import OPERATOR, Actor

__all__ = ["OPERATOR", "Actor"]
