"""The running service: configuration in, a consumer group member out."""
