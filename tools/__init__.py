"""Developer tooling beside the product (zulip keeps its own in tools/): not packaged, not in the image."""
