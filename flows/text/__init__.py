"""Text made safe to show: escaping for Markdown and terminals, secrets redacted (stdlib only, any layer may use it)."""
