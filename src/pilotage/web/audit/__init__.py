"""The audit log: who changed what, when, and through which door (api, web, import, cli)."""
