"""Page-number pagination for customer lists, with a capped `page_size`."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class CustomerPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """`page_size` from the query, capped at `max_page_size`; a value that is not a whole
        number from 1 up is refused (DRF would silently fall back to the default)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise ValidationError(
                {self.page_size_query_param: ["Must be a whole number from 1 up."]}
            )
        return min(int(raw), self.max_page_size)
