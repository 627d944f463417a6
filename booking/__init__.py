"""Booking of spaces and equipment (issue #5). Nothing here yet by design: the spine comes first."""
