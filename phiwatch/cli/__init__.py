"""The ``phiwatch`` command line.

Each command is a thin shell over the library: parse options, load the configuration
(errors in one line, exit code 2), call one use case (``phiwatch.service``, the pipeline
drivers), render the result (``phiwatch.render``). The commands live in modules by
subject; this one assembles the application.
"""

from __future__ import annotations

import typer

from phiwatch.cli import (
    alerts,
    api,
    context,
    elasticsearch,
    incidents,
    notify,
    pipeline,
    report,
    rules,
    sensor,
    users,
)

app = typer.Typer(
    name="phiwatch",
    help=(
        "Watch a hospital's HIS access logs and network for patient-data leaks.\n\n"
        "Start with `phiwatch demo`: it simulates a hospital day with injected leaks and "
        "shows what phiwatch finds. Then point a config file at your logs and use "
        "`phiwatch replay` for history and `phiwatch run` to watch live."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
pipeline.register(app)
alerts.register(app)
app.add_typer(rules.app, name="rules")
app.add_typer(elasticsearch.app, name="es")
app.add_typer(incidents.app, name="incidents")
app.add_typer(context.app, name="context")
app.add_typer(notify.app, name="notify")
app.add_typer(users.app, name="users")
app.add_typer(report.app, name="report")
api.register(app)
sensor.register(app)


def main() -> None:
    app()
