from django import template

from pipelabs import display
from pipelabs.selectors import dashboard

register = template.Library()


@register.inclusion_tag("pipelabs/dashboard.html", takes_context=True)
def operator_dashboard(context):
    request = context["request"]
    return {"d": dashboard(), "can_switch": request.user.has_perm("bots.change_bot")}


@register.filter
def amount(value):
    return display.amount(value)


@register.filter
def usd(value):
    return display.usd(value)


@register.filter
def ago(moment):
    return display.age(moment)
