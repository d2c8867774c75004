"""The concrete statements, one module each, written only with :mod:`zkattest.circuit`.

- :mod:`zkattest.circuits.age_gte`: "at least ``min_age`` years old on ``today``",
  from an issuer-signed credential, with an RP-scoped nullifier.
"""
