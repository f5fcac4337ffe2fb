"""The explorer's HTML pages: Jinja2 templates (``templates/``) rendered with autoescaping
on, so every value put into a page is escaped unless a template says otherwise."""

from __future__ import annotations

import jinja2

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("topoact.explorer", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_page(name: str, **context) -> str:
    """The page ``templates/{name}`` rendered with ``context``.

    The explorer's ``index.html`` takes ``live`` (True: the live server's page, which
    loads its panel's script ``live.js`` before ``explorer.js``); the profiles page takes
    ``sections`` and ``bars`` (see :mod:`topoact.explorer.profile_pages`).
    """
    return TEMPLATES.get_template(name).render(**context)
