"""Flag.kind's choices name every reason a flag can have: on-call load's threshold, busiest and joint
beside the survey rules' trend, shift and cutoff (the values the trend run already stores), each with the
reason name the pages show. Choices only: nothing in the database changes. Numbered 0014 as reserved; it
follows 0015, the latest migration when it was written."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pulse", "0015_team_summary_slack"),
    ]

    operations = [
        migrations.AlterField(
            model_name="flag",
            name="kind",
            field=models.CharField(
                choices=[
                    ("trend", "Worsening trend"),
                    ("shift", "Sudden shift"),
                    ("cutoff", "Beyond the instrument's cut-off"),
                    ("threshold", "Beyond the SRE book's on-call limit"),
                    ("busiest", "One person carries most of the pages"),
                    ("joint", "On-call load rose at the same time"),
                ],
                help_text="The strongest reason.",
                max_length=10,
            ),
        ),
    ]
