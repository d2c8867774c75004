"""Policy-as-code: Cedar policies decide who may ask for which verification.

:class:`PolicyEngine` loads a directory of Cedar policies and its schema once
(``PolicyEngine.load()`` without an argument loads the shipped defaults in
``zkattest/policy/default/``) and answers :class:`PolicyInput` questions with a
:class:`PolicyDecision`: allow, deny or step_up, with the ids of the policies that
decided.  :mod:`zkattest.policy.commands` holds ``check`` and ``init`` for the CLI.

This package imports only :mod:`zkattest.errors`, the standard library and cedarpy.
"""

from zkattest.policy.engine import (
    DEFAULT_DENY,
    DEFAULT_POLICY_DIR,
    DELEGATE,
    EVALUATION_ERROR,
    STEP_UP,
    PolicyDecision,
    PolicyEngine,
    PolicyError,
    PolicyInput,
    Principal,
    risk_score,
)

__all__ = [
    "DEFAULT_DENY",
    "DEFAULT_POLICY_DIR",
    "DELEGATE",
    "EVALUATION_ERROR",
    "STEP_UP",
    "PolicyDecision",
    "PolicyEngine",
    "PolicyError",
    "PolicyInput",
    "Principal",
    "risk_score",
]
