"""Sub-commands of ``python -m dashboard``: each module here registers its commands with cli.command."""
