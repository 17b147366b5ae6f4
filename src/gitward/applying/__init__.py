"""Applying: validate (server-side dry-run), apply with server-side apply in stages, prune."""
