"""Git push webhooks (SPEC §4): `POST /api/v1/webhooks/git` refreshes the Applications a push
concerns, so a commit is deployed in seconds instead of at the next interval.

    receiving    the route: size cap, provider detection, signature, parse, match, refresh
    bodies       the body, capped at 1 MiB; past the cap drained (bounded) so the sender reads the 413
    signatures   constant-time HMAC and token checks
    github, gitea, gitlab, bitbucket   one module per provider: headers, signature, payload
    pushes       what every provider's parser returns (`Push`), and `PayloadError`
    matching     which Applications a push concerns (normalised repository URL and branch)
"""
