"""Admin pages that are not a model's: the global kill switch (behind a confirmation) and an operator's API token."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from bots.models import KillSwitch
from bots.services import set_kill_switch


class KillSwitchForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, widget=forms.TextInput(attrs={"size": 60}),
                             help_text="Written to the audit trail and shown on the dashboard.")
    confirm = forms.BooleanField(label="Yes, I am sure")


def kill_switch(request):
    if not request.user.has_perm("bots.change_bot"):
        raise PermissionDenied
    switch = KillSwitch.objects.filter(pk=1).first()
    turning_on = not (switch and switch.is_on)
    form = KillSwitchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        stopped = set_kill_switch(turning_on, actor=request.user.get_username(), reason=form.cleaned_data["reason"])
        if turning_on:
            messages.warning(request, f"Kill switch ON: {len(stopped)} bot(s) stopping, their orders being cancelled.")
        else:
            messages.success(request, "Kill switch off. Bots stay stopped until someone starts them.")
        return HttpResponseRedirect(reverse("admin:index"))
    context = {**admin.site.each_context(request), "title": "Kill switch", "form": form, "turning_on": turning_on,
               "switch": switch}
    return TemplateResponse(request, "pipelabs/kill_switch.html", context)


class ApiTokenForm(forms.Form):
    hours = forms.DecimalField(min_value=1, max_value=24 * 366, decimal_places=0, initial=12,
                               help_text="How long the token lives (hours).")
    confirm = forms.BooleanField(label="Issue a token for me")


def api_token(request):
    """An operator's own API token: what the operator may do in the admin, it may do through the API.

    Shown once (only its digest is stored) and audited; "Revoke mine" ends every token of this login.
    """
    from datetime import timedelta

    from clients.signin import issue_token, revoke_tokens
    from pipelabs.audit import record_event

    token = expires_at = None
    form = ApiTokenForm(request.POST if request.POST.get("action") == "issue" else None)
    actor = request.user.get_username()
    if request.method == "POST" and request.POST.get("action") == "revoke":
        count = revoke_tokens(request.user)
        record_event(actor=actor, action="token.revoke", target=actor, changes={"tokens": count})
        messages.success(request, f"{count} token(s) of {actor} revoked.")
        return HttpResponseRedirect(reverse("api-token"))
    if request.method == "POST" and form.is_valid():
        token, expires_at = issue_token(request.user, ttl=timedelta(hours=int(form.cleaned_data["hours"])))
        record_event(actor=actor, action="token.issue", target=actor,
                     changes={"expires_at": expires_at.isoformat() if expires_at else None})
    context = {**admin.site.each_context(request), "title": "My API token", "form": form, "token": token,
               "expires_at": expires_at}
    response = TemplateResponse(request, "pipelabs/api_token.html", context)
    response["Cache-Control"] = "no-store"  # the token is on this page once; no cache keeps it
    return response
