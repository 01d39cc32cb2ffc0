"""Why each KPI matters, in a sentence a sales director would say (catalogue page).

This belongs in the KPI registry (`pilotage.engine.catalogue.Kpi`, next to the
definition); until the registry has such a field, the catalogue page reads it here.
"""

from __future__ import annotations

WHY: dict[str, tuple[str, str]] = {
    "new_leads": (
        "The top of the funnel: without new leads, every other number dries up a quarter later.",
        "Le haut de l'entonnoir : sans nouveaux prospects, tous les autres chiffres se tarissent "
        "un trimestre plus tard.",
    ),
    "new_customers": (
        "Growth itself: the customers won this period, the denominator of CAC.",
        "La croissance elle-même : les clients gagnés dans la période, le dénominateur du CAC.",
    ),
    "lead_conversion_rate": (
        "Tells whether leads are worth chasing: a falling rate means poorer leads or slower "
        "follow-up.",
        "Dit si les prospects valent la peine : un taux qui baisse signale des prospects moins "
        "bons ou un suivi plus lent.",
    ),
    "median_days_to_convert": (
        "How long cash waits: a shorter cycle frees reps and brings revenue forward.",
        "Le temps d'attente de l'argent : un cycle plus court libère les commerciaux et avance "
        "le chiffre d'affaires.",
    ),
    "stage_conversion": (
        "Shows the step where prospects leak out of the journey, so effort goes where it pays.",
        "Montre l'étape où les prospects quittent le parcours, pour porter l'effort là où il "
        "rapporte.",
    ),
    "acquisition_spend": (
        "What growth costs: the budget behind leads and customers.",
        "Ce que coûte la croissance : le budget derrière les prospects et les clients.",
    ),
    "cac": (
        "The price of one new customer: compare it with what a customer brings (LTV).",
        "Le prix d'un nouveau client : à comparer avec ce qu'un client rapporte (LTV).",
    ),
    "roas": (
        "Revenue per euro spent: the quickest check that a channel pays for itself.",
        "Chiffre d'affaires par euro dépensé : le contrôle le plus rapide qu'un canal se paie.",
    ),
    "roi": (
        "Margin returned per euro spent, after the spend: above zero, the money works.",
        "Marge rendue par euro dépensé, dépense déduite : au-dessus de zéro, l'argent travaille.",
    ),
    "active_customers": (
        "The base that buys: the customers revenue comes from.",
        "La base qui achète : les clients dont vient le chiffre d'affaires.",
    ),
    "churned_customers": (
        "Customers lost: each one must be replaced before growth resumes.",
        "Clients perdus : chacun doit être remplacé avant que la croissance reprenne.",
    ),
    "customer_churn_rate": (
        "The leak in the bucket: a small monthly churn compounds into a large yearly loss.",
        "La fuite du seau : un petit taux mensuel se cumule en une grosse perte annuelle.",
    ),
    "customer_retention_rate": (
        "Loyalty of the base: keeping a customer costs less than winning one.",
        "Fidélité de la base : garder un client coûte moins cher qu'en gagner un.",
    ),
    "subscription_churn_rate": (
        "Contracts lost: the recurring revenue that will not renew.",
        "Contrats perdus : le revenu récurrent qui ne se renouvellera pas.",
    ),
    "subscription_retention_rate": (
        "Contracts kept: the recurring base the next period starts from.",
        "Contrats gardés : la base récurrente dont part la période suivante.",
    ),
    "gross_mrr_churn_rate": (
        "Recurring revenue lost, weighted by value: losing a large account hurts more.",
        "Revenu récurrent perdu, pondéré par la valeur : perdre un gros compte fait plus mal.",
    ),
    "returning_customer_rate": (
        "How much of this period's business comes from customers who came back.",
        "La part de l'activité de la période qui vient de clients revenus.",
    ),
    "repeat_purchase_rate": (
        "Customers who bought twice are far likelier to stay: the first sign of loyalty.",
        "Un client qui a acheté deux fois a bien plus de chances de rester : premier signe de "
        "fidélité.",
    ),
    "early_churn_rate": (
        "Buyers who never come back: a channel that converts well but churns early buys "
        "revenue, not customers.",
        "Acheteurs qui ne reviennent jamais : un canal qui convertit bien mais perd vite achète "
        "du chiffre, pas des clients.",
    ),
    "revenue": (
        "The top line: what paid orders brought in.",
        "Le chiffre d'affaires : ce que les commandes payées ont rapporté.",
    ),
    "orders": (
        "Volume of business, independent of basket size.",
        "Le volume d'affaires, indépendamment de la taille du panier.",
    ),
    "average_order_value": (
        "Basket size: upselling and pricing show here first.",
        "La taille du panier : la montée en gamme et les prix s'y voient d'abord.",
    ),
    "revenue_per_customer": (
        "What an active customer brings in a period: the base of lifetime value.",
        "Ce qu'un client actif rapporte dans une période : la base de la valeur vie client.",
    ),
    "historical_clv": (
        "What a customer is worth over its life: the ceiling for what to pay to win one.",
        "Ce que vaut un client sur sa durée de vie : le plafond de ce qu'on peut payer pour "
        "le gagner.",
    ),
    "ltv_to_cac": (
        "Value won per euro of acquisition: above 3 is healthy, below 1 loses money.",
        "Valeur gagnée par euro d'acquisition : au-dessus de 3 c'est sain, en dessous de 1 on "
        "perd de l'argent.",
    ),
    "cac_payback_months": (
        "Months of margin to earn back a customer's acquisition cost: cash tied up in growth.",
        "Mois de marge pour rembourser le coût d'acquisition d'un client : la trésorerie "
        "immobilisée par la croissance.",
    ),
    "predicted_clv": (
        "What this period's new customers will bring, not what the old ones brought: "
        "judge a channel by the buyers it wins today.",
        "Ce que rapporteront les nouveaux clients de la période, pas ce qu'ont rapporté les "
        "anciens : juger un canal sur les acheteurs qu'il gagne aujourd'hui.",
    ),
    "predicted_ltv_to_cac": (
        "LTV to CAC looking forward: a channel whose new customers are predicted to be worth "
        "less than they cost should be cut before its history says so.",
        "Le ratio LTV / CAC tourné vers l'avenir : un canal dont les nouveaux clients "
        "vaudront moins qu'ils n'ont coûté se coupe avant que l'historique le dise.",
    ),
    "leads_assigned": (
        "The workload given to each rep: judge results against it.",
        "La charge confiée à chaque commercial : les résultats se jugent par rapport à elle.",
    ),
    "rep_lead_conversion_rate": (
        "How well a rep turns its leads into customers.",
        "La capacité d'un commercial à transformer ses prospects en clients.",
    ),
    "deals_won": (
        "Closed business: the count behind the forecast.",
        "Les affaires conclues : le nombre derrière les prévisions.",
    ),
    "deals_lost": (
        "Lost business: read the lost reasons before blaming the rep.",
        "Les affaires perdues : lire les motifs de perte avant de blâmer le commercial.",
    ),
    "win_rate": (
        "Share of closed deals that are won: the quality of the pipeline and of the pitch.",
        "Part des affaires clôturées qui sont gagnées : la qualité du pipeline et de "
        "l'argumentaire.",
    ),
    "revenue_won": (
        "The value of the deals won: what the team brought in.",
        "La valeur des affaires gagnées : ce que l'équipe a rapporté.",
    ),
    "average_deal_size": (
        "Bigger deals with the same effort: where account selection shows.",
        "Des affaires plus grosses pour le même effort : là où se voit le choix des comptes.",
    ),
    "median_sales_cycle_days": (
        "How long deals take to close: a long cycle ties up reps and delays revenue.",
        "Le temps de conclusion : un cycle long mobilise les commerciaux et retarde le chiffre.",
    ),
    "activities": (
        "Calls, meetings and demos made: effort, to read next to results.",
        "Appels, rendez-vous et démonstrations : l'effort, à lire à côté des résultats.",
    ),
}


def why(name: str, language: str) -> str:
    texts = WHY.get(name)
    if texts is None:
        return ""
    return texts[1] if language.startswith("fr") else texts[0]
