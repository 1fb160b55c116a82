"""Rendering: a route's templates applied to one event, checked before sending."""
