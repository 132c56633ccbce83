"""Where the tool server's tools come from: upstream configuration, --tools specs, the catalog's rules.

Pure parts only (no process started): the command-line and file syntax and
their errors, namespacing, redaction, and ``sentinel serve mcp``'s exit 2 on a
bad spec. Upstreams themselves: tests/integration/test_mcp_upstreams.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mcp_types
import pytest

from mcp_server.errors import ConfigError, McpError
from mcp_server.registry import ToolRegistry
from mcp_server.sources import (
    SEPARATOR,
    DemoSource,
    RegistrySource,
    ToolCatalog,
    UpstreamConfig,
    UpstreamSource,
    build_tool_source,
    load_registry,
    load_upstreams,
    parse_upstream,
)
from mcp_server.sources._redaction import REDACTED, Redactor
from mcp_server.sources.config import is_upstream_name, secret_values
from sentinel_cli import main
from sentinel_contract import MAX_TOOL_NAME

# -- names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["time", "github", "my-server", "my_server", "a1", "A-b_c-9", "x" * 32])
def test_upstream_names_that_are_accepted(name):
    assert is_upstream_name(name)


@pytest.mark.parametrize("name", ["", "a__b", "a_", "_a", "-a", "a-", "a--b", "a.b", "a b", "a/b", "x" * 33, "tíme"])
def test_upstream_names_that_are_refused(name):
    # Never the separator, never ending in _ : the first "__" of a served name always ends the upstream's name.
    assert not is_upstream_name(name)


def test_the_separator_keeps_served_names_within_the_tool_name_rule():
    assert SEPARATOR == "__"
    served = "x" * 32 + SEPARATOR + "y" * (MAX_TOOL_NAME - 34)
    assert len(served) == MAX_TOOL_NAME


# -- --upstream ------------------------------------------------------------------------------------------

def test_a_stdio_upstream_on_the_command_line():
    config = parse_upstream("time=stdio:mcp-server-time --local-timezone 'Europe/Paris'")
    assert (config.name, config.transport, config.command, config.args) == (
        "time", "stdio", "mcp-server-time", ["--local-timezone", "Europe/Paris"])
    assert config.env == {} and config.timeout_seconds == 8 and config.connect_timeout_seconds == 30
    assert config.describe() == "stdio:mcp-server-time"


def test_an_http_upstream_on_the_command_line():
    config = parse_upstream("notes=https://notes.internal:8443/mcp?team=a")
    assert (config.transport, config.url, config.describe()) == (
        "http", "https://notes.internal:8443/mcp?team=a", "https://notes.internal:8443")


@pytest.mark.parametrize(("spec", "message"), [
    ("time", "expected NAME=stdio:COMMAND [ARGS...] or NAME=https://host/path"),
    ("=stdio:x", "expected NAME=stdio:COMMAND"),
    ("time=mcp-server-time", "expected NAME=stdio:COMMAND"),
    ("time=stdio:", "stdio: needs a command"),
    ("time=stdio:'unclosed", "the command does not parse"),
    ("ti__me=stdio:x", "name: an upstream name is 1-32 letters and digits"),
    ("notes=ftp://host/mcp", "expected NAME=stdio:COMMAND"),
    ("notes=https://user:pass@host/mcp", "put credentials in headers, not in the url"),
    ("notes=http:///mcp", "an http upstream's url is http:// or https:// with a host"),
])
def test_a_bad_upstream_on_the_command_line_says_what_is_wrong(spec, message):
    with pytest.raises(ConfigError) as refused:
        parse_upstream(spec)
    assert message in refused.value.message and refused.value.code == "bad_upstream"
    assert "pass" not in refused.value.message.replace("--upstream", "")


# -- --upstreams FILE ------------------------------------------------------------------------------------

def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "upstreams.yaml"
    path.write_text(text)
    return path


def test_an_upstreams_file_reads_credentials_from_the_environment(tmp_path):
    path = _file(tmp_path, """
upstreams:
  - name: github
    transport: stdio
    command: github-mcp-server
    args: [stdio]
    env: {GITHUB_TOKEN: "${GH_TOKEN}", MODE: plain}
    timeout_seconds: 3
  - name: notes
    transport: http
    url: https://notes.internal/mcp
    headers: {Authorization: "Bearer ${NOTES_TOKEN}"}
""")
    github, notes = load_upstreams(path, {"GH_TOKEN": "ghp-abcdefgh12345", "NOTES_TOKEN": "n-0123456789"})
    assert github.env["GITHUB_TOKEN"].get_secret_value() == "ghp-abcdefgh12345"
    assert github.env["MODE"].get_secret_value() == "plain" and github.timeout_seconds == 3
    assert notes.headers["Authorization"].get_secret_value() == "Bearer n-0123456789"
    assert "ghp-abcdefgh12345" not in repr(github) and "n-0123456789" not in repr(notes)


@pytest.mark.parametrize(("text", "message"), [
    ("upstreams:\n  - {name: a, transport: stdio, command: x, env: {T: '${MISSING}'}}",
     "upstreams[0].env.T refers to ${MISSING}, which is not set"),
    ("upstreams:\n  - {name: a, transport: stdio, command: x, env: {T: 1, T: 2}}", "duplicate key 'T'"),
    ("upstreams:\n  - {name: a, transport: stdio, command: x, color: red}", "color: Extra inputs are not permitted"),
    ("upstreams:\n  - {name: a, transport: http, url: 'https://h/mcp', env: {A: b}}",
     "command, args, env and cwd are for stdio upstreams"),
    ("upstreams:\n  - {name: a, transport: stdio, command: x, headers: {A: b}}", "url and headers are for http"),
    ("upstreams:\n  - {name: a, transport: sse, url: 'https://h/mcp'}", "transport: Input should be 'stdio' or 'http'"),
    ("upstreams:\n  - {name: a, transport: http, url: 'https://h/mcp', headers: {'X A': b}}",
     "a header name is an HTTP token"),
    ("upstreams:\n  - {name: a, transport: http, url: 'https://h/mcp', headers: {A: \"x\\ny\"}}",
     "the value of header A holds a line break"),
    ("upstreams:\n  - {name: a, transport: stdio, command: x, timeout_seconds: 0}", "timeout_seconds"),
    ("upstreams:\n  - just-a-string", "upstreams[0] is not a mapping"),
    ("servers: []", "the file holds one key, upstreams"),
    ("upstreams: [", "not valid YAML (line"),
])
def test_a_bad_upstreams_file_says_where_and_what(tmp_path, text, message):
    with pytest.raises(ConfigError) as refused:
        load_upstreams(_file(tmp_path, text), {})
    assert message in refused.value.message, refused.value.message


def test_a_missing_upstreams_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_upstreams(tmp_path / "nope.yaml")
    assert "cannot read the file (No such file or directory)" in refused.value.message


def test_two_upstreams_with_one_name_are_refused(tmp_path):
    with pytest.raises(ConfigError) as refused:
        build_tool_source(upstreams=["time=stdio:a", "time=stdio:b"], data_dir=tmp_path)
    assert refused.value.message == "two upstreams are named time"


def test_the_secrets_to_redact_are_the_env_header_and_query_values_long_enough_to_look_for():
    config = UpstreamConfig(name="n", transport="http", url="https://h/mcp?api_key=qk-12345678&x=1",
                            headers={"Authorization": "Bearer tok-12345678", "X-Mode": "fast"})
    assert secret_values(config) == ["Bearer tok-12345678", "tok-12345678", "qk-12345678"]


# -- redaction -------------------------------------------------------------------------------------------

def test_redaction_replaces_secrets_in_every_string_of_a_result():
    redactor = Redactor(["s3cret-value-1"])
    result = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text="key=s3cret-value-1.")],
        structured_content={"s3cret-value-1": ["x s3cret-value-1"]}, is_error=False)
    clean = redactor.model(result)
    assert clean.content[0].text == f"key={REDACTED}."  # type: ignore[union-attr]
    assert clean.structured_content == {REDACTED: [f"x {REDACTED}"]}


def test_redaction_without_a_secret_in_sight_returns_the_same_object():
    result = mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text="fine")], is_error=False)
    assert Redactor(["s3cret-value-1"]).model(result) is result
    assert Redactor([]).model(result) is result


# -- --tools ---------------------------------------------------------------------------------------------

def test_a_registry_is_loaded_by_module_and_attribute():
    registry = load_registry("mcp_upstreams.local_tools:registry")
    assert [tool.name for tool in registry] == ["add", "shout"]


@pytest.mark.parametrize(("spec", "message"), [
    ("mcp_upstreams.local_tools", "expected package.module:attribute (a ToolRegistry)"),
    ("mcp_upstreams/local_tools.py:registry", "expected package.module:attribute"),
    ("no_such_module_here:registry", "no module named 'no_such_module_here'"),
    ("mcp_upstreams.nope:registry", "no module named 'mcp_upstreams.nope'"),
    ("mcp_upstreams.local_tools:missing", "mcp_upstreams.local_tools has no attribute 'missing'"),
    ("mcp_upstreams.local_tools:not_a_registry", "not_a_registry is a dict, not a mcp_server.ToolRegistry"),
])
def test_a_bad_tools_spec_says_what_is_wrong(spec, message):
    with pytest.raises(ConfigError) as refused:
        load_registry(spec)
    assert message in refused.value.message and refused.value.code == "bad_tools_spec"


def test_a_tools_module_that_fails_to_import_is_named_with_its_error(tmp_path, monkeypatch):
    (tmp_path / "broken_tools.py").write_text("import json\nraise RuntimeError('no database')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as refused:
        load_registry("broken_tools:registry")
    assert refused.value.message == "--tools broken_tools:registry: importing broken_tools failed: RuntimeError: no database"


def test_the_sources_the_options_make(tmp_path):
    assert isinstance(build_tool_source(data_dir=tmp_path), DemoSource)
    assert isinstance(build_tool_source(tools=["demo"], data_dir=tmp_path), DemoSource)
    single = build_tool_source(tools=["mcp_upstreams.local_tools:registry"], data_dir=tmp_path)
    assert isinstance(single, RegistrySource) and not isinstance(single, DemoSource)
    both = build_tool_source(tools=["demo", "mcp_upstreams.local_tools:registry"], upstreams=["time=stdio:x"],
                             data_dir=tmp_path)
    assert isinstance(both, ToolCatalog) and list(both.upstreams) == ["time"] and len(both.local) == 2


# -- the catalog -----------------------------------------------------------------------------------------

def _registry(*names: str) -> RegistrySource:
    registry = ToolRegistry()
    for name in names:
        registry.add(lambda name=name: name, name=name)
    return RegistrySource(registry)


async def test_two_local_tools_with_one_name_stop_the_start():
    with pytest.raises(ConfigError) as refused:
        await ToolCatalog([_registry("add"), _registry("add")]).open()
    assert (refused.value.code, refused.value.message) == ("duplicate_tool", "two local tools are named add")


async def test_a_local_tool_under_an_upstream_prefix_stops_the_start_before_any_upstream_starts():
    upstream = UpstreamSource(parse_upstream("time=stdio:/nonexistent"))
    with pytest.raises(ConfigError) as refused:
        await ToolCatalog([_registry("time__now")], [upstream]).open()
    assert refused.value.code == "duplicate_tool" and upstream.connections == 0 and upstream.last_error is None


async def test_local_names_with_the_separator_are_fine_when_no_upstream_has_that_name():
    catalog = ToolCatalog([_registry("db__query")])
    await catalog.open()
    answer = await catalog.call_tool("db__query", {})
    assert answer.content[0].text == "db__query"  # type: ignore[union-attr]
    with pytest.raises(McpError) as unknown:
        await catalog.call_tool("db__other", {})
    assert unknown.value.code == "unknown_tool"


# -- sentinel serve mcp ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["--tools", "mytools"], "expected package.module:attribute"),
    (["--tools", "mcp_upstreams.local_tools:not_a_registry"], "not a mcp_server.ToolRegistry"),
    (["--upstream", "time"], "expected NAME=stdio:COMMAND"),
    (["--upstreams", "missing.yaml"], "cannot read the file"),
    (["--upstream", "time=stdio:/nonexistent/server", "--list-tools"],
     "the upstream time (stdio:server) could not be opened: its command could not be started"),
])
def test_serve_mcp_exits_2_with_the_reason_for_a_bad_tool_option(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "mcp", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sentinel serve mcp: ") and message in err and "Traceback" not in err


def test_serve_mcp_lists_the_tools_of_a_registry_of_ones_own(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "mcp", "--tools", "mcp_upstreams.local_tools:registry", "--list-tools"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(tool["name"], tool["inputSchema"]["required"]) for tool in listing["tools"]] == [
        ("add", ["a", "b"]), ("shout", ["word"])]


def test_a_tools_module_in_the_working_directory_is_found(tmp_path, monkeypatch, capsys):
    (tmp_path / "cwd_tools.py").write_text(
        "from mcp_server import ToolRegistry\nregistry = ToolRegistry()\n"
        "@registry.tool\ndef ping() -> str:\n    return 'pong'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", str(tmp_path))])
    assert main(["serve", "mcp", "--tools", "cwd_tools:registry", "--list-tools"]) == 0
    assert [tool["name"] for tool in json.loads(capsys.readouterr().out)["tools"]] == ["ping"]
    assert sys.path[-1] == str(tmp_path)  # after everything installed
