"""The DPoP replay store's epoch marker (replay.py), created with the table's contents intact: no
proof is refused for having been issued before it. A table emptied later loses the marker, and the
store then refuses the proofs it may have forgotten."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

EPOCH_MARKER = "~epoch"  # replay.EPOCH_MARKER, as it was when this migration was written


def create_epoch_marker(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    used_proofs = apps.get_model("auth0_jwt", "UsedDPoPProof")
    used_proofs.objects.using(schema_editor.connection.alias).get_or_create(
        key=EPOCH_MARKER, defaults={"expires_at": 0.0}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth0_jwt", "0003_persisted_key_set"),
    ]

    operations = [
        migrations.RunPython(create_epoch_marker, migrations.RunPython.noop, elidable=False),
    ]
