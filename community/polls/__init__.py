"""Polls: staff ask, members vote once each, kiosk screens take anonymous answers.

Like every service here, each function checks roles itself. A member's vote, its points and
the ledger entry commit together; the database's unique constraints refuse a second vote or
a second answer from one kiosk session even when two requests race.
"""
