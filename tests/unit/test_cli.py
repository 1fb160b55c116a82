"""The command line, offline: --version and `render` on the examples."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stream_notifier import __version__
from stream_notifier.cli import main
from tests.unit._support import EXAMPLE_EVENTS, EXAMPLE_ROUTES


def render(
    event: str, *extra: str, routes: Path = EXAMPLE_ROUTES, topic: str = "platform.events"
) -> list[str]:
    return [
        "render",
        "--routes",
        str(routes),
        "--event",
        str(EXAMPLE_EVENTS / f"{event}.json"),
        "--topic",
        topic,
        *extra,
    ]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"stream-notifier {__version__}\n"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: stream-notifier")
    for command in ("run", "render", "dev-sink", "dev-produce"):
        assert command in out


def test_render_prints_the_request_body(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(render("invite-accepted")) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    header, _, body = captured.out.partition("\n")
    assert header == "# route invite-accepted  Idempotency-Key: 738626dc1c118a8882d09ce8f027730d"
    assert orjson.loads(body) == {
        "title": "Invitation accepted",
        "body": "bob@example.com accepted your invitation to Acme Production and can now sign in.",
        "severity": "success",
        "user_id": "555000111222333444",
        "ctas": [{"label": "View members", "payload": "/workspaces/778899001122334455/members"}],
        "metadata": {
            "invite_id": "inv_313",
            "workspace_id": "778899001122334455",
            "event_id": "evt_01HZX4W2B6N8C4F7",
            "event_type": "invite_accepted",
            "route": "invite-accepted",
        },
        "expires_hours": 72,
    }


@pytest.mark.parametrize(
    ("event", "route"),
    [("webhook-endpoint-disabled", "endpoint-disabled"), ("api-key-revoked", "api-key-revoked")],
)
def test_render_other_examples(event: str, route: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(render(event)) == 0
    assert capsys.readouterr().out.startswith(f"# route {route}  Idempotency-Key: ")


def test_render_unknown_type_is_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(render("unknown-type")) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "no route matches this event (it would be skipped)\n"


def test_render_unknown_type_with_strict_routes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(render("unknown-type", "--strict-routes")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error [route] no route for event type 'user.profile_viewed'")


def test_render_missing_variable_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(render("missing-variable")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error [render] template.body: missing template variable")
    assert "invitee_email" in captured.err
    assert "route=invite-accepted" in captured.err


def test_render_on_a_topic_the_route_does_not_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(render("invite-accepted", topic="events")) == 0
    assert "no route matches" in capsys.readouterr().err


def test_render_with_a_broken_routes_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text("version: 1\nroutes: []\n", encoding="utf-8")
    assert main(render("invite-accepted", routes=routes)) == 2
    assert capsys.readouterr().err == (
        f"stream-notifier: configuration error: {routes}: field 'routes': "
        "must be a non-empty list of routes\n"
    )
