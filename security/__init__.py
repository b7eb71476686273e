"""Security controls that cut across the apps: two-factor sign-in, login lockout, the content
security policy, secrets at rest and keeping secrets out of logs and error reports.

See docs/security.md for the threat model and what each control answers.
"""
