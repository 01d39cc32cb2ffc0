"""The KPI catalogue: every KPI of kpis.md declared once.

The command line, the Python API, the REST API, the dashboard, the KPI catalogue page
and docs/kpis.md all read this registry: a KPI's name, labels, definition, formula,
unit, direction, breakdowns, window and the function that builds its Ibis expression
live here and nowhere else.

`stage_conversion` is one KPI whose rows are keyed by the funnel step: `by` holds
`{"from": "lead", "to": "mql"}` (plus the breakdown, e.g. `"channel": "web"`), one row
per consecutive pair of `settings.journey_stages` and one for first -> last stage.

`expected_wins` and `wins_over_expected` (kpis.md, "Sales team") read the probabilities
stored by the scoring app in the CRM database (`kpis.team_expected`); on a source without
that history their values are null and `note` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import ibis.expr.types as ir

from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source
from pilotage.engine.context import DIMENSIONS, Dimension, KpiContext, KpiError
from pilotage.engine.kpis import (
    acquisition,
    attrition,
    clv_forward,
    funnel,
    team,
    team_expected,
    value,
)

Unit = Literal["count", "money", "rate", "days", "months", "ratio"]
UNITS: tuple[Unit, ...] = ("count", "money", "rate", "days", "months", "ratio")
Window = Literal["conversion", "revenue", "inactivity"]
# How a period or breakdown value without any row is reported: "additive" KPIs (counts
# and sums) are 0, "ratio" KPIs have numerator 0, denominator 0 and value null,
# "statistic" KPIs (medians) are null.
Fill = Literal["additive", "ratio", "statistic"]
Section = Literal["funnel", "acquisition", "attrition", "value", "team"]
SECTIONS: dict[Section, tuple[str, str]] = {
    "funnel": ("Funnel and conversion", "Entonnoir et conversion"),
    "acquisition": ("Acquisition cost and return", "Coût et retour d'acquisition"),
    "attrition": ("Customers kept and lost", "Clients gardés et perdus"),
    "value": ("Value", "Valeur"),
    "team": ("Sales team", "Équipe commerciale"),
}
Builder = Callable[[KpiContext, Dimension | None], ir.Table]
Language = Literal["en", "fr"]

ALL: tuple[Dimension, ...] = DIMENSIONS
MARKETING: tuple[Dimension, ...] = ("channel", "campaign")
REPS: tuple[Dimension, ...] = ("owner",)


@dataclass(frozen=True)
class Kpi:
    name: str
    section: Section
    label_en: str
    label_fr: str
    definition_en: str
    definition_fr: str
    formula: str
    unit: Unit
    # True: up is good; False: down is good; None: neither (spend).
    higher_is_better: bool | None
    breakdowns: tuple[Dimension, ...]
    # The window after P.end that must have elapsed at as_of for the value to be final.
    window: Window | None
    fill: Fill
    build: Builder
    # Keys of `by` besides the breakdown (the funnel step of stage_conversion).
    step_keys: tuple[str, ...] = ()
    # What a source lacks for this KPI, said to the user next to the (null) values.
    note: Callable[[Source], str | None] | None = None
    # The part of the KPI computed in Python and joined to its SQL as a table of the run
    # (a model fitted with scipy): such a KPI has no SQL that runs on its own.
    computed_in_python: str | None = None

    def label(self, language: Language) -> str:
        return self.label_fr if language == "fr" else self.label_en

    def definition(self, language: Language) -> str:
        return self.definition_fr if language == "fr" else self.definition_en

    def window_days(self, settings: Settings) -> int:
        if self.window == "conversion":
            return settings.conversion_window_days
        if self.window == "revenue":
            return settings.revenue_window_days
        if self.window == "inactivity":
            return settings.inactivity_days
        return 0

    def check_breakdown(self, by: Dimension | None) -> None:
        if by is not None and by not in self.breakdowns:
            supported = ", ".join(self.breakdowns) or "none"
            raise KpiError(f"{self.name} has no breakdown by {by} (supported: {supported})")

    def expression(self, ctx: KpiContext, by: Dimension | None = None) -> ir.Table:
        """The Ibis expression of this KPI over `ctx`'s periods (one row per period and
        breakdown value; columns period, [by_value], [stage_from, stage_to], value,
        numerator, denominator)."""
        self.check_breakdown(by)
        return self.build(ctx, by)


PREDICTED_CLV_IN_PYTHON = (
    "each customer's predicted CLV (Pareto/NBD and Gamma-Gamma fitted with scipy)"
)
EXPECTED_WINS_IN_PYTHON = (
    "each lead's conversion probability at assignment (matched in pandas from the score history)"
)

CATALOGUE: tuple[Kpi, ...] = (
    # --- Funnel and conversion -----------------------------------------------------
    Kpi(
        "new_leads",
        "funnel",
        "New leads",
        "Nouveaux prospects",
        "Contacts created in the period (entered the funnel).",
        "Contacts créés dans la période (entrés dans l'entonnoir).",
        "count(contacts with created_at in P)",
        "count",
        True,
        ALL,
        None,
        "additive",
        funnel.new_leads,
    ),
    Kpi(
        "new_customers",
        "funnel",
        "New customers",
        "Nouveaux clients",
        "Contacts whose first conversion (first paid order or first subscription start) "
        "falls in the period; a reactivated customer is not new again. Broken down by the "
        "contact's acquisition channel, campaign or owner.",
        "Contacts dont la première conversion (première commande payée ou premier "
        "abonnement) tombe dans la période ; un client réactivé n'est pas compté à "
        "nouveau. Ventilé par canal d'acquisition, campagne ou responsable du contact.",
        "count(contacts with converted_at in P)",
        "count",
        True,
        ALL,
        None,
        "additive",
        funnel.new_customers,
    ),
    Kpi(
        "lead_conversion_rate",
        "funnel",
        "Lead conversion rate",
        "Taux de conversion des prospects",
        "Cohort conversion: among contacts created in the period, the share that "
        "converted within the conversion window W (a buyer registered after paying has a "
        "delay of 0). Final once P.end + W has passed.",
        "Conversion de cohorte : parmi les contacts créés dans la période, la part "
        "convertie dans la fenêtre de conversion W (un acheteur enregistré après son "
        "achat a un délai de 0). Définitif une fois P.fin + W passé.",
        "count(created in P and max(0, converted_at - created_at) < W) / count(created in P)",
        "rate",
        True,
        ALL,
        "conversion",
        "ratio",
        funnel.lead_conversion_rate,
    ),
    Kpi(
        "median_days_to_convert",
        "funnel",
        "Median days to convert",
        "Délai médian de conversion (jours)",
        "Median conversion delay, in exact days, of the contacts created in the period "
        "that converted within the window W (mean of the two middle values for an even "
        "count).",
        "Délai de conversion médian, en jours exacts, des contacts créés dans la période "
        "et convertis dans la fenêtre W (moyenne des deux valeurs centrales pour un "
        "nombre pair).",
        "median(max(0, converted_at - created_at) / 86400 s) over the cohort's "
        "conversions within W",
        "days",
        False,
        ALL,
        "conversion",
        "statistic",
        funnel.median_days_to_convert,
    ),
    Kpi(
        "stage_conversion",
        "funnel",
        "Stage conversion",
        "Conversion entre étapes",
        "Among contacts created in the period that reached stage `from`, the share that "
        "reached stage `to`, for each consecutive pair of journey stages and for first -> "
        "last stage. A contact reached a stage if it changed to it or to a later stage, "
        "or (last stage) if it converted; so a customer reached every stage, stage "
        "changes or not.",
        "Parmi les contacts créés dans la période ayant atteint l'étape `from`, la part "
        "ayant atteint l'étape `to`, pour chaque paire d'étapes consécutives du parcours "
        "et de la première à la dernière. Un contact a atteint une étape s'il y est passé "
        "ou est passé à une étape ultérieure, ou (dernière étape) s'il a converti ; un "
        "client a donc atteint toutes les étapes, qu'il ait ou non des changements d'étape.",
        "count(cohort reached to) / count(cohort reached from)",
        "rate",
        True,
        ALL,
        None,
        "ratio",
        funnel.stage_conversion,
        step_keys=("from", "to"),
    ),
    # --- Acquisition cost and return ----------------------------------------------
    Kpi(
        "acquisition_spend",
        "acquisition",
        "Acquisition spend",
        "Dépenses d'acquisition",
        "Marketing and sales spend booked in the period.",
        "Dépenses marketing et commerciales comptabilisées dans la période.",
        "sum(spend.amount with spent_on in P)",
        "money",
        None,
        MARKETING,
        None,
        "additive",
        acquisition.acquisition_spend,
    ),
    Kpi(
        "cac",
        "acquisition",
        "Customer acquisition cost (CAC)",
        "Coût d'acquisition client (CAC)",
        "Spend divided by new customers. Blended without breakdown; by channel, the "
        "channel's spend over the new customers acquired through it; by campaign, the "
        "campaign's spend over its attributed new customers (attribution model setting); "
        "null for (direct), customers no campaign touched, who have no campaign spend.",
        "Dépenses divisées par les nouveaux clients. Global sans ventilation ; par canal, "
        "les dépenses du canal sur ses nouveaux clients ; par campagne, les dépenses de la "
        "campagne sur ses nouveaux clients attribués (modèle d'attribution des réglages) ; "
        "nul pour (direct), les clients qu'aucune campagne n'a touchés, sans dépense de "
        "campagne.",
        "acquisition_spend(P) / new_customers(P)",
        "money",
        False,
        MARKETING,
        None,
        "ratio",
        acquisition.cac,
    ),
    Kpi(
        "roas",
        "acquisition",
        "Return on ad spend (ROAS)",
        "Retour sur dépenses publicitaires (ROAS)",
        "Attributed revenue over spend: for each customer converted in the period, its "
        "paid-order revenue in the R days from its conversion, times the credit of the "
        "channel (acquisition channel, 1) or campaign (attribution). Final once P.end + R "
        "has passed. By campaign, null for (direct) and for spend without a campaign.",
        "Chiffre d'affaires attribué sur dépenses : pour chaque client converti dans la "
        "période, son chiffre d'affaires payé dans les R jours suivant sa conversion, "
        "multiplié par le crédit du canal (canal d'acquisition, 1) ou de la campagne "
        "(attribution). Définitif une fois P.fin + R passé. Par campagne, nul pour "
        "(direct) et pour les dépenses sans campagne.",
        "A / spend, A = sum(credit x revenue in [converted_at, converted_at + R))",
        "ratio",
        True,
        MARKETING,
        "revenue",
        "ratio",
        acquisition.roas,
    ),
    Kpi(
        "roi",
        "acquisition",
        "Return on investment (ROI)",
        "Retour sur investissement (ROI)",
        "Attributed gross margin minus spend, over spend (the orders' margin, else amount "
        "x gross_margin). Final once P.end + R has passed. By campaign, null for (direct) "
        "and for spend without a campaign.",
        "Marge brute attribuée moins les dépenses, sur les dépenses (marge des commandes, "
        "sinon montant x gross_margin). Définitif une fois P.fin + R passé. Par campagne, "
        "nul pour (direct) et pour les dépenses sans campagne.",
        "(A x m - spend) / spend",
        "rate",
        True,
        MARKETING,
        "revenue",
        "ratio",
        acquisition.roi,
    ),
    # --- Customers kept and lost --------------------------------------------------
    Kpi(
        "active_customers",
        "attrition",
        "Active customers",
        "Clients actifs",
        "Customers active at the start of the period: a paid order in the D days before "
        "(the opening base S).",
        "Clients actifs au début de la période : une commande payée dans les D jours "
        "précédents (la base d'ouverture S).",
        "|S|, S = customers with a paid order t, P.start - D <= t < P.start",
        "count",
        True,
        ALL,
        None,
        "additive",
        attrition.active_customers,
    ),
    Kpi(
        "churned_customers",
        "attrition",
        "Churned customers",
        "Clients perdus",
        "Members of the opening base S no longer active at the end of the period.",
        "Membres de la base d'ouverture S qui ne sont plus actifs à la fin de la période.",
        "|{c in S : no paid order in [P.end - D, P.end)}|",
        "count",
        False,
        ALL,
        None,
        "additive",
        attrition.churned_customers,
    ),
    Kpi(
        "customer_churn_rate",
        "attrition",
        "Customer churn rate",
        "Taux d'attrition clients",
        "Share of the opening base S lost during the period (order activity). Customers "
        "acquired during the period are in neither numerator nor denominator; a longer "
        "period's rate is computed on that period, never summed from shorter ones.",
        "Part de la base d'ouverture S perdue pendant la période (activité de commande). "
        "Les clients acquis pendant la période ne comptent ni au numérateur ni au "
        "dénominateur ; le taux d'une période plus longue est calculé sur cette période.",
        "churned_customers(P) / active_customers(P)",
        "rate",
        False,
        ALL,
        None,
        "ratio",
        attrition.customer_churn_rate,
    ),
    Kpi(
        "customer_retention_rate",
        "attrition",
        "Customer retention rate",
        "Taux de rétention clients",
        "Share of the opening base S still active at the end of the period.",
        "Part de la base d'ouverture S toujours active à la fin de la période.",
        "1 - customer_churn_rate(P)",
        "rate",
        True,
        ALL,
        None,
        "ratio",
        attrition.customer_retention_rate,
    ),
    Kpi(
        "subscription_churn_rate",
        "attrition",
        "Subscription churn rate",
        "Taux d'attrition des abonnés",
        "The churn rate with contractual activity: active at s iff a subscription has "
        "started_at < s <= ended_at (open when not ended).",
        "Le taux d'attrition avec l'activité contractuelle : actif à s si un abonnement a "
        "started_at < s <= ended_at (ouvert s'il n'est pas terminé).",
        "|S not subscribed at P.end| / |S|, S = subscribed at P.start",
        "rate",
        False,
        ALL,
        None,
        "ratio",
        attrition.subscription_churn_rate,
    ),
    Kpi(
        "subscription_retention_rate",
        "attrition",
        "Subscription retention rate",
        "Taux de rétention des abonnés",
        "Share of the customers subscribed at the start of the period still subscribed at its end.",
        "Part des clients abonnés au début de la période toujours abonnés à sa fin.",
        "1 - subscription_churn_rate(P)",
        "rate",
        True,
        ALL,
        None,
        "ratio",
        attrition.subscription_retention_rate,
    ),
    Kpi(
        "gross_mrr_churn_rate",
        "attrition",
        "Gross MRR churn rate",
        "Taux d'attrition brut du MRR",
        "Monthly recurring revenue, at the start of the period, of the subscriptions that "
        "end during it, over the MRR at the start of the period.",
        "Revenu récurrent mensuel, au début de la période, des abonnements qui se "
        "terminent pendant celle-ci, sur le MRR au début de la période.",
        "sum(mrr of subscriptions running at P.start and ended in P) / sum(mrr running at P.start)",
        "rate",
        False,
        ALL,
        None,
        "ratio",
        attrition.gross_mrr_churn_rate,
    ),
    Kpi(
        "returning_customer_rate",
        "attrition",
        "Returning customer rate",
        "Taux de clients fidèles",
        "Among customers with a paid order in the period, the share that also had a paid "
        "order before the period started.",
        "Parmi les clients ayant une commande payée dans la période, la part qui avait "
        "déjà une commande payée avant son début.",
        "count(buyers in P with a paid order before P.start) / count(buyers in P)",
        "rate",
        True,
        ALL,
        None,
        "ratio",
        attrition.returning_customer_rate,
    ),
    Kpi(
        "repeat_purchase_rate",
        "attrition",
        "Repeat purchase rate",
        "Taux de réachat",
        "Among customers converted before the end of the period, the share with at least "
        "two paid orders before the end of the period.",
        "Parmi les clients convertis avant la fin de la période, la part ayant au moins "
        "deux commandes payées avant la fin de la période.",
        "count(converted before P.end with >= 2 paid orders before P.end) / "
        "count(converted before P.end)",
        "rate",
        True,
        ALL,
        None,
        "ratio",
        attrition.repeat_purchase_rate,
    ),
    Kpi(
        "early_churn_rate",
        "attrition",
        "Early churn rate",
        "Taux d'attrition précoce",
        "Among customers converted in the period, the share with no further paid order in "
        "the D days after their conversion. Final once P.end + D has passed; compare with "
        "the lead conversion rate per channel to see which channels bring buyers who stay.",
        "Parmi les clients convertis dans la période, la part sans autre commande payée "
        "dans les D jours suivant leur conversion. Définitif une fois P.fin + D passé ; "
        "à comparer au taux de conversion par canal pour voir quels canaux fidélisent.",
        "count(converted in P, no paid order in (converted_at, converted_at + D]) / "
        "count(converted in P)",
        "rate",
        False,
        ALL,
        "inactivity",
        "ratio",
        attrition.early_churn_rate,
    ),
    # --- Value ---------------------------------------------------------------------
    Kpi(
        "revenue",
        "value",
        "Revenue",
        "Chiffre d'affaires",
        "Sum of the paid orders of the period (status paid, amount > 0). By channel or "
        "campaign, the customer's (acquisition); by owner, the order's rep (rep_id).",
        "Somme des commandes payées de la période (statut payé, montant > 0). Par canal ou "
        "campagne, ceux du client (acquisition) ; par commercial, celui de la commande "
        "(rep_id).",
        "sum(amount of paid orders in P)",
        "money",
        True,
        ALL,
        None,
        "additive",
        value.revenue,
    ),
    Kpi(
        "orders",
        "value",
        "Orders",
        "Commandes",
        "Number of paid orders in the period. By channel or campaign, the customer's "
        "(acquisition); by owner, the order's rep (rep_id).",
        "Nombre de commandes payées dans la période. Par canal ou campagne, ceux du client "
        "(acquisition) ; par commercial, celui de la commande (rep_id).",
        "count(paid orders in P)",
        "count",
        True,
        ALL,
        None,
        "additive",
        value.orders,
    ),
    Kpi(
        "average_order_value",
        "value",
        "Average order value",
        "Panier moyen",
        "Revenue divided by the number of paid orders.",
        "Chiffre d'affaires divisé par le nombre de commandes payées.",
        "revenue(P) / orders(P)",
        "money",
        True,
        ALL,
        None,
        "ratio",
        value.average_order_value,
    ),
    Kpi(
        "revenue_per_customer",
        "value",
        "Revenue per customer (ARPC)",
        "Chiffre d'affaires par client (ARPC)",
        "Revenue divided by the number of customers with a paid order in the period.",
        "Chiffre d'affaires divisé par le nombre de clients ayant une commande payée dans "
        "la période.",
        "revenue(P) / count(customers with a paid order in P)",
        "money",
        True,
        ALL,
        None,
        "ratio",
        value.revenue_per_customer,
    ),
    Kpi(
        "historical_clv",
        "value",
        "Historical customer lifetime value",
        "Valeur vie client historique",
        "Gross margin per customer over the churn rate of the period; null when the churn "
        "is 0, and huge when it is near 0 (the formula explodes: read it with the churn).",
        "Marge brute par client sur le taux d'attrition de la période ; nulle quand "
        "l'attrition est 0, énorme quand elle en est proche (la formule explose : à lire "
        "avec l'attrition).",
        "revenue_per_customer(P) x m / customer_churn_rate(P)",
        "money",
        True,
        ALL,
        None,
        "ratio",
        value.historical_clv,
    ),
    Kpi(
        "ltv_to_cac",
        "value",
        "LTV to CAC",
        "Ratio LTV / CAC",
        "Historical customer lifetime value over the customer acquisition cost.",
        "Valeur vie client historique sur le coût d'acquisition client.",
        "historical_clv(P) / cac(P)",
        "ratio",
        True,
        MARKETING,
        None,
        "ratio",
        value.ltv_to_cac,
    ),
    Kpi(
        "cac_payback_months",
        "value",
        "CAC payback (months)",
        "Retour sur CAC (mois)",
        "Months of gross margin per customer needed to pay back the acquisition cost.",
        "Mois de marge brute par client nécessaires pour rembourser le coût d'acquisition.",
        "cac(P) / (revenue_per_customer(P) / months_in(P) x m)",
        "months",
        False,
        MARKETING,
        None,
        "ratio",
        value.cac_payback_months,
    ),
    Kpi(
        "predicted_clv",
        "value",
        "Predicted CLV per new customer",
        "Valeur vie client prédite par nouveau client",
        "Mean predicted lifetime value of the customers won in the period: the margin each "
        "is expected to bring over the next clv_horizon_months months from as_of, "
        "discounted monthly (Pareto/NBD and Gamma-Gamma fitted on the paid orders known at "
        "as_of, scoring.md section 4). Customers without a paid order are left out; null "
        "when the models cannot be fitted (fewer than 100 customers). Broken down by the "
        "contact's acquisition channel, campaign or owner.",
        "Valeur vie client prédite moyenne des clients gagnés dans la période : la marge "
        "que chacun devrait rapporter sur les clv_horizon_months prochains mois à partir "
        "de as_of, actualisée chaque mois (Pareto/NBD et Gamma-Gamma ajustés sur les commandes "
        "payées connues à as_of). Les clients sans commande payée sont exclus ; nul si les "
        "modèles ne peuvent être ajustés (moins de 100 clients). Ventilé par canal "
        "d'acquisition, campagne ou responsable du contact.",
        "sum(predicted CLV of customers converted in P) / count(those with a prediction)",
        "money",
        True,
        ALL,
        None,
        "ratio",
        clv_forward.predicted_clv,
        computed_in_python=PREDICTED_CLV_IN_PYTHON,
    ),
    Kpi(
        "predicted_ltv_to_cac",
        "value",
        "Predicted LTV to CAC",
        "Ratio LTV prédite / CAC",
        "Predicted CLV per new customer over the customer acquisition cost: what a "
        "customer won in the period is expected to bring, per euro it cost to win. By "
        "campaign, customers count with their attribution credit, as in CAC.",
        "Valeur vie client prédite par nouveau client sur le coût d'acquisition : ce "
        "qu'un client gagné dans la période devrait rapporter, par euro dépensé pour le "
        "gagner. Par campagne, les clients comptent avec leur crédit d'attribution, comme "
        "dans le CAC.",
        "predicted_clv(P) / cac(P)",
        "ratio",
        True,
        MARKETING,
        None,
        "ratio",
        clv_forward.predicted_ltv_to_cac,
        computed_in_python=PREDICTED_CLV_IN_PYTHON,
    ),
    # --- Sales team ---------------------------------------------------------------
    Kpi(
        "leads_assigned",
        "team",
        "Leads assigned",
        "Prospects attribués",
        "Contacts created in the period with a sales rep in charge (owner).",
        "Contacts créés dans la période ayant un commercial responsable.",
        "count(contacts with created_at in P and owner_id set)",
        "count",
        True,
        ALL,
        None,
        "additive",
        funnel.leads_assigned,
    ),
    Kpi(
        "rep_lead_conversion_rate",
        "team",
        "Rep lead conversion rate",
        "Taux de conversion des prospects attribués",
        "The lead conversion rate restricted to contacts with a sales rep in charge.",
        "Le taux de conversion des prospects restreint aux contacts ayant un commercial.",
        "lead_conversion_rate(P) over contacts with owner_id set",
        "rate",
        True,
        ALL,
        "conversion",
        "ratio",
        funnel.rep_lead_conversion_rate,
    ),
    Kpi(
        "deals_won",
        "team",
        "Deals won",
        "Affaires gagnées",
        "Deals won with closed_at in the period.",
        "Affaires gagnées clôturées dans la période.",
        "count(deals won, closed_at in P)",
        "count",
        True,
        REPS,
        None,
        "additive",
        team.deals_won,
    ),
    Kpi(
        "deals_lost",
        "team",
        "Deals lost",
        "Affaires perdues",
        "Deals lost with closed_at in the period.",
        "Affaires perdues clôturées dans la période.",
        "count(deals lost, closed_at in P)",
        "count",
        False,
        REPS,
        None,
        "additive",
        team.deals_lost,
    ),
    Kpi(
        "win_rate",
        "team",
        "Win rate",
        "Taux de réussite",
        "Among deals closed in the period, the share won.",
        "Parmi les affaires clôturées dans la période, la part gagnée.",
        "deals_won(P) / (deals_won(P) + deals_lost(P))",
        "rate",
        True,
        REPS,
        None,
        "ratio",
        team.win_rate,
    ),
    Kpi(
        "revenue_won",
        "team",
        "Revenue won",
        "Montant gagné",
        "Sum of the amounts of the deals won in the period.",
        "Somme des montants des affaires gagnées dans la période.",
        "sum(amount of deals won, closed_at in P)",
        "money",
        True,
        REPS,
        None,
        "additive",
        team.revenue_won,
    ),
    Kpi(
        "average_deal_size",
        "team",
        "Average deal size",
        "Montant moyen des affaires",
        "Revenue won divided by the won deals that have an amount.",
        "Montant gagné divisé par les affaires gagnées ayant un montant.",
        "revenue_won(P) / count(deals won in P with an amount)",
        "money",
        True,
        REPS,
        None,
        "ratio",
        team.average_deal_size,
    ),
    Kpi(
        "median_sales_cycle_days",
        "team",
        "Median sales cycle (days)",
        "Cycle de vente médian (jours)",
        "Median time, in exact days, from creation to close of the deals won in the period.",
        "Durée médiane, en jours exacts, de la création à la clôture des affaires gagnées "
        "dans la période.",
        "median((closed_at - created_at) / 86400 s) over deals won in P",
        "days",
        False,
        REPS,
        None,
        "statistic",
        team.median_sales_cycle_days,
    ),
    Kpi(
        "activities",
        "team",
        "Activities",
        "Activités",
        "Interactions made by a sales rep (rep_id set) in the period.",
        "Interactions réalisées par un commercial dans la période.",
        "count(interactions with rep_id set and occurred_at in P)",
        "count",
        True,
        REPS,
        None,
        "additive",
        team.activities,
    ),
    Kpi(
        "expected_wins",
        "team",
        "Expected wins",
        "Gains attendus",
        "What the leads a rep was given in the period were worth: the sum of their "
        "conversion probabilities at assignment (the first score stored within a day of "
        "their creation). Leads never scored, or given to no rep, are left out; null when "
        "none was scored, or when the source keeps no score history (a contract folder).",
        "Ce que valaient les prospects attribués dans la période : la somme de leurs "
        "probabilités de conversion à l'attribution (premier score enregistré dans le jour "
        "suivant leur création). Les prospects jamais notés, ou confiés à aucun commercial, "
        "sont exclus ; nul si aucun ne l'a été, ou si la source ne garde pas d'historique "
        "des scores (un dossier).",
        "sum(p at assignment of the scored contacts created in P with owner_id set)",
        "count",
        None,
        REPS,
        "conversion",
        "statistic",
        team_expected.expected_wins,
        note=team_expected.history_note,
        computed_in_python=EXPECTED_WINS_IN_PYTHON,
    ),
    Kpi(
        "wins_over_expected",
        "team",
        "Wins over expected",
        "Gains au-delà des attentes",
        "Scored leads of the period (given to a rep) converted within the window W, minus "
        "expected wins: positive when a rep did better than the quality of its leads "
        "predicted. Final once P.end + W has passed; null when no lead was scored.",
        "Prospects notés de la période (confiés à un commercial) convertis dans la fenêtre "
        "W, moins les gains attendus : positif quand le commercial a fait mieux que ce que "
        "la qualité de ses prospects laissait prévoir. Définitif une fois P.fin + W passé ; "
        "nul si aucun prospect n'a été noté.",
        "count(scored, created in P, owner_id set, max(0, converted_at - created_at) < W) "
        "- expected_wins(P)",
        "count",
        True,
        REPS,
        "conversion",
        "statistic",
        team_expected.wins_over_expected,
        note=team_expected.history_note,
        computed_in_python=EXPECTED_WINS_IN_PYTHON,
    ),
)

KPIS: dict[str, Kpi] = {kpi.name: kpi for kpi in CATALOGUE}


def get_kpi(name: str) -> Kpi:
    try:
        return KPIS[name]
    except KeyError:
        raise KpiError(
            f"unknown KPI {name!r} (known KPIs: {', '.join(KPIS)}; `pilotage kpi --list`)"
        ) from None


def _check_catalogue() -> None:
    """The registry is validated once, on import: a mistake fails loudly, here."""
    if len(KPIS) != len(CATALOGUE):
        raise RuntimeError("two KPIs of the catalogue share a name")
    for kpi in CATALOGUE:
        if kpi.unit not in UNITS:
            raise RuntimeError(f"{kpi.name}: unknown unit {kpi.unit!r}")
        if not set(kpi.breakdowns) <= set(DIMENSIONS):
            raise RuntimeError(f"{kpi.name}: unknown breakdown in {kpi.breakdowns}")
        if not (kpi.label_en and kpi.label_fr and kpi.definition_en and kpi.definition_fr):
            raise RuntimeError(f"{kpi.name}: a label or a definition is missing")


_check_catalogue()
