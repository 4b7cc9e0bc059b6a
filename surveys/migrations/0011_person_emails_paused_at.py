from django.db import migrations, models

HELP = (
    "Set when the person paused their check-in emails (the link in every check-in email); they resume them "
    "from the same page. No invitation or reminder is sent while it is set."
)


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0010_schedule_name_unique_per_organisation"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalperson",
            name="emails_paused_at",
            field=models.DateTimeField(
                blank=True, help_text=HELP, null=True, verbose_name="check-in emails paused"
            ),
        ),
        migrations.AddField(
            model_name="person",
            name="emails_paused_at",
            field=models.DateTimeField(
                blank=True, help_text=HELP, null=True, verbose_name="check-in emails paused"
            ),
        ),
    ]
