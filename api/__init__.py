"""The front doors: the CLI, the HTTP app and the web page."""
