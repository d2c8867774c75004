"""OAuth 2.0 for zkattest: client authentication, DPoP, token exchange, access tokens."""
