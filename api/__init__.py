"""The HTTP door: who is calling (principals, credentials), what they may do (policy), and limits.

Routes and the app live in `api.app` / `api.routes*` (the lead's); this package gives them their
building blocks: `settings`, `principal`, `tokens`, `oidc`, `auth`, `policy`, `limits`, `messages`.
"""
