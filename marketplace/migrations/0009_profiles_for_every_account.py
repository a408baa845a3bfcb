"""Accounts made outside sign-up (``createsuperuser``, the admin) get the profile that every
account now has (``marketplace.services.accounts.ensure_profile``)."""

from django.conf import settings
from django.db import migrations


def add_missing_profiles(apps, schema_editor):
    from marketplace.services.accounts import name_skeleton

    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Profile = apps.get_model("marketplace", "Profile")
    missing = User.objects.filter(profile__isnull=True)
    Profile.objects.bulk_create(
        [Profile(user=user, name_skeleton=name_skeleton(user.username)) for user in missing],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0008_dataset_formula_cells"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(add_missing_profiles, migrations.RunPython.noop)]
