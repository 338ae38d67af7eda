"""`stream-app gateway`: the vendors' webhooks in, each request on its vendor topic before it is
answered (README, "Vendor events in")."""
