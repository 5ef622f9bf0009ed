"""``python -m reasonmed.mockserver``: run the mock OpenAI-compatible endpoint."""

from reasonmed.mockserver.server import main

raise SystemExit(main())
