"""What the book shows: tables beside the papers (``paper_a``, ``paper_b``), figures
(``plots``), notebook helpers (``notebook``) and the book build (``runbook``)."""
