"""pytest plugin for podshm (registered through the ``pytest11`` entry point)."""
