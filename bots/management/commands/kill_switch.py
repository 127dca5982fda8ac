from django.core.management.base import BaseCommand, CommandError

from bots.models import Bot, KillSwitch
from bots.services import finish_stop, set_kill_switch


class Command(BaseCommand):
    help = ("Turn the global kill switch on (every bot stops and its open orders are cancelled; nothing "
            "starts until it is off) or off (bots stay stopped until started).")

    def add_arguments(self, parser):
        parser.add_argument("state", choices=["on", "off", "status"], help="on, off, or status.")
        parser.add_argument("--reason", default="", help="Why, for the audit trail.")
        parser.add_argument("--actor", default="command", help="Who to record in the audit trail.")

    def handle(self, *args, state, reason, actor, **options):
        if state == "status":
            switch = KillSwitch.objects.filter(pk=1).first()
            self.stdout.write(str(switch or "kill switch off"))
            return
        stopped = set_kill_switch(state == "on", actor=actor, reason=reason)
        self.stdout.write(self.style.WARNING(f"kill switch {state}; {len(stopped)} bot(s) stopping"))
        pending = 0
        for bot in Bot.objects.filter(pk__in=stopped).order_by("pk"):
            bot = finish_stop(bot)
            if bot.status != Bot.Status.STOPPED:
                pending += 1
                self.stderr.write(f"bot {bot.pk} ({bot.name}): {bot.status}. {bot.health_message}".rstrip())
        if pending:
            raise CommandError(f"{pending} bot(s) still stopping; the engine keeps trying (see above).")
