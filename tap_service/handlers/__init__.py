"""HTTP handlers: thin functions that parse, call a service, and render."""
