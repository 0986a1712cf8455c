"""The HTTP service for services and officers: the API under /v1 and the worklist pages under /kasus.

    python api.py        # REFERRAL_API_HOST / REFERRAL_API_PORT (default 127.0.0.1:8000); needs
                         # TEMPORAL_ADDRESS and DATABASE_URL (or a running `worker.py --dev`)

The code lives in the `api` package (this file only starts it; Python imports the package, not this file).
"""

from __future__ import annotations

import os
import sys

from api.server import run

if __name__ == "__main__":
    code = run()
    sys.stdout.flush()
    sys.stderr.flush()
    # As starter.py: leave without interpreter finalisation (the Temporal client's native threads).
    os._exit(code)
