"""The REST API (`/api/v1/`, Django Ninja): the contract tables, the analytical results,
imports and the audit log, behind tokens or sessions and the scoping rules of
`pilotage.web.accounts.permissions`."""
