"""A hand-written stdio MCP server that misbehaves on request: what no SDK server would send.

    python raw_server.py MODE

It answers ``initialize`` and ``ping`` correctly, and then, by MODE:
``duplicate`` lists one tool twice; ``garbage_list`` answers tools/list with a
result that is not a tool list; ``hang_initialize`` never answers initialize;
``exit_at_start`` exits at once; ``noisy`` writes a log line on stdout first
(and then behaves); ``once`` starts only if ``$ONCE_FILE`` does not exist yet (it creates it), so
it cannot be restarted; ``normal`` lists the tools below. Calls: ``echo`` answers;
``garbage`` writes a line that is not JSON and never answers; ``bad_shape``
answers a result that is not a CallToolResult; ``silent`` never answers (but
pings still do); ``error`` answers a JSON-RPC error quoting ``$SECRET``;
``deaf`` stops reading anything, pings included; ``exit`` ends the process;
``unstructured`` declares an output schema and answers without structured content.
"""

from __future__ import annotations

import json
import os
import sys
import time

MODE = sys.argv[1]
TOOLS = [{"name": name, "description": name, "inputSchema": {"type": "object"}}
         for name in ("echo", "garbage", "bad_shape", "silent", "error", "deaf", "exit")]
TOOLS.append({"name": "unstructured", "description": "promises structured content, sends none",
              "inputSchema": {"type": "object"},
              "outputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}})


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    if MODE == "exit_at_start":
        sys.exit(1)
    if MODE == "once":
        if os.path.exists(os.environ["ONCE_FILE"]):
            sys.exit(1)
        open(os.environ["ONCE_FILE"], "w").close()
    if MODE == "noisy":
        print("starting up, a log line where only JSON-RPC belongs", flush=True)
    for line in sys.stdin:
        message = json.loads(line)
        method, ident = message.get("method"), message.get("id")
        if ident is None:
            continue  # a notification
        if method == "initialize":
            if MODE == "hang_initialize":
                continue
            send({"jsonrpc": "2.0", "id": ident, "result": {
                "protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "raw", "version": "1"}}})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": ident, "result": {}})
        elif method == "tools/list":
            if MODE == "duplicate":
                send({"jsonrpc": "2.0", "id": ident, "result": {"tools": [TOOLS[0], TOOLS[0]]}})
            elif MODE == "garbage_list":
                send({"jsonrpc": "2.0", "id": ident, "result": {"tools": "none of your business"}})
            else:
                send({"jsonrpc": "2.0", "id": ident, "result": {"tools": TOOLS}})
        elif method == "tools/call":
            name = message["params"]["name"]
            if name == "echo":
                text = json.dumps(message["params"].get("arguments"))
                send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": text}]}})
            elif name == "garbage":
                sys.stdout.write("<html>this is not JSON-RPC</html>\n")
                sys.stdout.flush()
            elif name == "bad_shape":
                send({"jsonrpc": "2.0", "id": ident, "result": {"content": "not a list", "isError": "maybe"}})
            elif name == "error":
                send({"jsonrpc": "2.0", "id": ident,
                      "error": {"code": -32603, "message": f"backend refused key {os.environ.get('SECRET', '')}"}})
            elif name == "deaf":
                time.sleep(3600)
            elif name == "exit":
                os._exit(2)
            elif name == "unstructured":
                send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": "n is 1"}]}})
            # silent: no answer at all


if __name__ == "__main__":
    main()
