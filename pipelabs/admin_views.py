"""Admin pages that are not a model's: the global kill switch, behind a confirmation."""
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
