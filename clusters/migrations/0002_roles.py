"""Create the viewer/operator/admin groups with the permissions of their role."""

from django.db import migrations

GROUP_PERMISSIONS = {
    "viewer": ["view_fleet"],
    "operator": ["view_fleet", "operate_fleet"],
    "admin": ["view_fleet", "operate_fleet", "administer_fleet"],
}
LABELS = {
    "view_fleet": "Can view the fleet",
    "operate_fleet": "Can sync, redeploy, request registrations, act on containers",
    "administer_fleet": "Can approve registrations, admit instances, manage settings",
}


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    # Permissions are normally made by post_migrate, after every migration; the
    # groups need them now, so make them here (post_migrate then finds them).
    content_type, _ = ContentType.objects.get_or_create(app_label="clusters", model="auditentry")
    permissions = {
        codename: Permission.objects.get_or_create(
            codename=codename, content_type=content_type, defaults={"name": label}
        )[0]
        for codename, label in LABELS.items()
    }
    for group_name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.add(*(permissions[c] for c in codenames))


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=GROUP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
