"""Live checks of a domain's DNS, policy host and MX hosts (network I/O lives here only)."""
