"""Operator tools: redrive dead letters, move a group's offsets to replay."""
