"""Command-line tools for working with the project locally (run as ``python -m scripts.<name>``)."""
