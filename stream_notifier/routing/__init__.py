"""Routing: event type (and topic) to the routes that turn it into notifications."""

from stream_notifier.routing.loader import load_routes, parse_routes
from stream_notifier.routing.model import Route, RouteTable
from stream_notifier.routing.router import Router

__all__ = ["Route", "RouteTable", "Router", "load_routes", "parse_routes"]
