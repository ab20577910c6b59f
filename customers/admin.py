from django import forms
from django.contrib import admin

from customers.models import Customer
from customers.validators import normalize_email, normalize_phone


class CustomerAdminForm(forms.ModelForm):
    """Normalises email and phone exactly as the API's services do."""

    # Room for what people type (`+1 (415) 555-0123`); the model checks the normalised number.
    phone = forms.CharField(required=False, max_length=32)

    class Meta:
        model = Customer
        fields = ["owner", "name", "email", "phone", "company", "notes"]

    def _get_validation_exclusions(self):
        # The organization is not edited here, but the email's uniqueness depends on it (the
        # owner scope): the constraints are checked with it, not skipped.
        return super()._get_validation_exclusions() - {"organization"}

    def clean_email(self):
        return normalize_email(self.cleaned_data["email"])

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = [
        "name", "email", "company", "phone", "owner", "organization", "created_at", "updated_at"
    ]  # fmt: skip
    list_filter = [
        "created_at",
        "updated_at",
        ("company", admin.EmptyFieldListFilter),
        ("phone", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "email", "company", "phone", "owner__username", "organization"]
    readonly_fields = ["id", "organization", "created_at", "updated_at"]
    raw_id_fields = ["owner"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
