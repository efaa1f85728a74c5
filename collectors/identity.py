"""How the collectors introduce themselves to every source (HTTP User-Agent)."""

USER_AGENT = "AegisSyncCollector/0.1 (+https://github.com/aegis-sync; public policy data collector)"
