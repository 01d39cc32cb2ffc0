"""Scores in the CRM: their history, the scoring models and conversion models in use, and
the services that rescore one contact at once or the whole base in a batch."""
