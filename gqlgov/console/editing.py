"""What the console's editors read from the server: a schema's SDL (the GraphQL editor's completion
and schema explorer) and the denied-field picker's tree."""

from itertools import groupby

from django.http import Http404, HttpResponse

from gqlgov import roles
from gqlgov.console.common import schema_or_404


@roles.requires(roles.VIEW)
def schema_sdl(request, name: str):
    """The SDL of the schema's latest version as text/plain (staff only, like every console page)."""
    schema = schema_or_404(name)
    version = schema.latest_version
    if version is None:
        raise Http404("The schema has no version yet.")
    # A GitHub-sized SDL is ~1 MB: the browser keeps it and asks again with the version's hash.
    etag = f'"{version.content_hash}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(version.sdl, content_type="text/plain; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def field_tree(coordinates: list[str]) -> list[list[object]]:
    """[[type, [field, ...]], ...] sorted by type then field: the picker's data, grouped once here."""
    pairs = sorted(coordinate.partition(".")[::2] for coordinate in coordinates)
    return [[type_name, [field for _, field in fields]] for type_name, fields in groupby(pairs, key=lambda p: p[0])]
