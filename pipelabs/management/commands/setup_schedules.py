from django.core.management.base import BaseCommand
from django_q.models import Schedule

from pipelabs.schedules import SCHEDULES


class Command(BaseCommand):
    help = "Make django-q2's schedules match pipelabs/schedules.py (by name); remove any others."

    def handle(self, *args, **options):
        wanted = {spec.name for spec in SCHEDULES}
        removed, _ = Schedule.objects.exclude(name__in=wanted).delete()
        for spec in SCHEDULES:
            _, created = Schedule.objects.update_or_create(
                name=spec.name,
                defaults={
                    "func": spec.func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": spec.minutes,
                    "repeats": -1,
                },
            )
            self.stdout.write(f"{'created' if created else 'updated'} {spec.name} (every {spec.minutes} min)")
        if removed:
            self.stdout.write(f"removed {removed} schedule(s) not declared in pipelabs/schedules.py")
