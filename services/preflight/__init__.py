"""`evision preflight`: what a deployment needs of the account, checked before CloudFormation is."""
