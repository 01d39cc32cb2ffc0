"""Contacts list and a contact's page (log an interaction, move a stage)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pilotage.web.crm.models import Contact
from pilotage.web.dashboard import services
from pilotage.web.dashboard.access import visible_contacts, visible_reps
from pilotage.web.dashboard.analytics import company_settings
from pilotage.web.dashboard.budget import within_budget
from pilotage.web.dashboard.selectors import contacts as selectors

INTERACTION_TYPES = ("call", "meeting", "demo", "email", "quote_sent", "store_visit", "note")


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.ContactFilters.from_query(request.GET)
    contacts = visible_contacts(request.user)
    page = selectors.contact_page(contacts, filters)
    context = {
        "page": page,
        "f": filters,
        "reps": list(visible_reps(request.user).values_list("rep_id", "name")),
        "stages": company_settings().journey_stages,
        "choices": selectors.filter_choices(contacts),
        "segments": selectors.SEGMENTS,
        "next_query": filters.query(cursor=page.next_cursor) if page.next_cursor else None,
        "first_query": filters.query(),
    }
    template = (
        "dashboard/_contact_rows.html"
        if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "contact-table"
        else "dashboard/contacts.html"
    )
    return render(request, template, context)


def _visible_contact(request: HttpRequest, contact_id: str) -> Contact:
    contact = visible_contacts(request.user).filter(contact_id=contact_id).first()
    if contact is None:
        # Outside the user's scope, a contact does not exist (as in the API).
        raise Http404(contact_id)
    return contact


@login_required
@within_budget
def contact_page(request: HttpRequest, contact_id: str) -> HttpResponse:
    contact = _visible_contact(request, contact_id)
    detail = selectors.contact_detail(contact)
    return render(
        request,
        "dashboard/contact.html",
        {"d": detail, "interaction_types": INTERACTION_TYPES},
    )


@login_required
@require_POST
def contact_log(request: HttpRequest, contact_id: str) -> HttpResponse:
    contact = _visible_contact(request, contact_id)
    try:
        services.contact_interaction_log(
            user=request.user,
            contact=contact,
            type=request.POST.get("type", "").strip(),
            note=request.POST.get("note", "").strip()[:2000],
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Interaction logged."))
    return redirect("dashboard:contact", contact_id=contact.contact_id)


@login_required
@require_POST
def contact_stage(request: HttpRequest, contact_id: str) -> HttpResponse:
    contact = _visible_contact(request, contact_id)
    try:
        services.contact_stage_move(
            user=request.user,
            contact=contact,
            stage=request.POST.get("stage", ""),
            journey_stages=company_settings().journey_stages,
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Stage changed."))
    return redirect("dashboard:contact", contact_id=contact.contact_id)
