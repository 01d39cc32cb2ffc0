"""Pilotage: the sales-performance CRM.

The analytical core (contract, engine, attribution, scoring, clv, demo) never imports
Django; the web project in `pilotage.web` is an adapter around it.
"""

__version__ = "0.1.0"
