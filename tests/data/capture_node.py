#!/usr/bin/env python3
"""Captures Node.js HTTP stacks from npm: Node's built-in fetch (undici), the undici package's
request(), the bare `http` module, `http`-module libraries (axios 1.x and 0.x, node-fetch v2,
got, superagent, needle), the official OpenAI and Anthropic SDKs in old and current major
versions, and the Vercel AI SDK (`ai` + `@ai-sdk/openai`).

Packages are installed with npm into /tmp/dg-capture/node (old majors under npm aliases);
runs them with the machine's `node`; writes the `node` entries of tests/data/clients.json.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from capture_lib import BODY_A, KEY, Capture, must, prov, sh  # noqa: E402

# npm dependency name -> version spec (aliases keep several majors side by side).
DEPS = {
    "axios": "^1", "axios0": "npm:axios@^0.27", "node-fetch": "^2", "got": "^14", "superagent": "*", "needle": "*",
    "undici": "^7", "openai": "*", "openai4": "npm:openai@^4", "openai3": "npm:openai@^3",
    "@anthropic-ai/sdk": "*", "anthropic0": "npm:@anthropic-ai/sdk@^0.24", "ai": "*", "@ai-sdk/openai": "*",
}

AH = "{'x-api-key': K, 'anthropic-version': '2023-06-01'}"
BEARER = "{authorization: 'Bearer ' + K}"
JSONH = "{'x-api-key': K, 'anthropic-version': '2023-06-01', 'content-type': 'application/json'}"
MSG = "[{role: 'user', content: 'hi'}]"

# Calls shared by several majors of one package; `M` is the stack's npm dependency (its
# default export, or the module), `U`, `K`, `B` the base URL, key and JSON body.
AXIOS = {"get": "await M.get(U + '/v1/models', {headers: %s});" % BEARER,
         "post": "await M.post(U + '/v1/messages', JSON.parse(B), {headers: %s});" % AH}
OPENAI = {"get": "await new M({apiKey: K, baseURL: U + '/v1', maxRetries: 0}).models.list();",
          "post": "await new M({apiKey: K, baseURL: U + '/v1', maxRetries: 0}).chat.completions.create("
                  "{model: 'gpt-test', messages: %s});" % MSG}
ANTHROPIC_POST = ("await new M({apiKey: K, baseURL: U, maxRetries: 0}).messages.create({model: 'claude-test', "
                  "max_tokens: 16, messages: %s});" % MSG)
DONE = "r => { r.resume(); r.on('end', ok); }"

# stack -> (family, npm dependency (None: node itself), {kind: code}).
STACKS = {
    "node-fetch-builtin": ("node", None, {
        "get": "await (await fetch(U + '/v1/models', {headers: %s})).text();" % BEARER,
        "post": "await (await fetch(U + '/v1/messages', {method: 'POST', headers: %s, body: B})).text();" % JSONH}),
    "undici-request": ("none", "undici", {
        "get": "await (await M.request(U + '/v1/models', {headers: %s})).body.text();" % BEARER,
        "post": "await (await M.request(U + '/v1/messages', {method: 'POST', headers: %s, body: B})).body.text();" % JSONH}),
    "node-http": ("none", None, {
        "get": "const http = await import('node:http'); await new Promise(ok => http.get(U + '/v1/models', {headers: %s}, %s));"
               % (BEARER, DONE),
        "post": "const http = await import('node:http'); await new Promise(ok => { const q = http.request(U + '/v1/messages', "
                "{method: 'POST', headers: Object.assign(%s, {'content-length': Buffer.byteLength(B)})}, %s); q.end(B); });"
                % (JSONH, DONE)}),
    "axios": ("axios", "axios", AXIOS),
    "axios-0": ("axios", "axios0", AXIOS),
    "node-fetch-2": ("node-fetch", "node-fetch", {
        "get": "await (await M(U + '/v1/models', {headers: %s})).text();" % BEARER,
        "post": "await (await M(U + '/v1/messages', {method: 'POST', headers: %s, body: B})).text();" % JSONH}),
    "got": ("got", "got", {
        "get": "await M.get(U + '/v1/models', {headers: %s, retry: {limit: 0}}).text();" % BEARER,
        "post": "await M.post(U + '/v1/messages', {json: JSON.parse(B), headers: %s, retry: {limit: 0}}).text();" % AH}),
    "superagent": ("none", "superagent", {
        "get": "await M.get(U + '/v1/models').set(%s);" % BEARER,
        "post": "await M.post(U + '/v1/messages').set(%s).send(JSON.parse(B));" % AH}),
    "needle": ("needle", "needle", {
        "get": "await M('get', U + '/v1/models', null, {headers: %s});" % BEARER,
        "post": "await M('post', U + '/v1/messages', JSON.parse(B), {json: true, headers: %s});" % AH}),
    "openai-node": ("openai-sdk-js", "openai", OPENAI),
    "openai-node-4": ("openai-sdk-js", "openai4", OPENAI),
    "openai-node-3": ("openai-sdk-js", "openai3", {
        "get": "await new M.OpenAIApi(new M.Configuration({apiKey: K, basePath: U + '/v1'})).listModels();",
        "post": "await new M.OpenAIApi(new M.Configuration({apiKey: K, basePath: U + '/v1'})).createChatCompletion("
                "{model: 'gpt-test', messages: %s});" % MSG}),
    "anthropic-node": ("anthropic-sdk-js", "@anthropic-ai/sdk", {
        "get": "await new M({apiKey: K, baseURL: U, maxRetries: 0}).models.list();", "post": ANTHROPIC_POST}),
    "anthropic-node-0": ("anthropic-sdk-js", "anthropic0", {"post": ANTHROPIC_POST}),
    "vercel-ai": ("ai-sdk", "ai", {
        "post": "const {createOpenAI} = await import('@ai-sdk/openai');\n"
                "await M.generateText({model: createOpenAI({apiKey: K, baseURL: U + '/v1'}).chat('gpt-test'), prompt: 'hi', "
                "maxRetries: 0});"}),
}
NOTES = {
    "node-fetch-builtin": "Node's global fetch() (bundled undici)",
    "undici-request": "undici.request() of the npm package; undici 7 (undici 8 needs Node >= 22, this machine has Node 20)",
    "got": "got 14 (got 15 and later need Node >= 22, this machine has Node 20)",
    "node-http": "bare node:http request; no User-Agent unless the caller sets one",
    "superagent": "superagent sends no User-Agent in Node unless the caller sets one",
    "anthropic-node-0": "this version has no models.list: POST only",
    "vercel-ai": "generateText with @ai-sdk/openai's chat model (sends through global fetch); POST only",
}


def import_of(dep):
    """The line that binds `M` to the dependency (its default export, else the module)."""
    if dep is None:
        return ""
    return "const NS = await import(%s); const M = NS.default ?? NS;" % json.dumps(dep)


def main():
    cap = Capture("node")
    d = cap.dir
    with open(os.path.join(d, "package.json"), "w") as f:
        json.dump({"name": "dg-capture-node", "private": True, "type": "module", "dependencies": DEPS}, f)
    must(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=d, timeout=1200)
    node = sh(["node", "--version"]).stdout.strip()
    for stack, (family, dep, kinds) in STACKS.items():
        if dep is None:
            v = "node " + node + " (undici " + sh(["node", "-p", "process.versions.undici"]).stdout.strip() + ")"
            p = prov("nodejs", "machine", "the machine's node " + node)
        else:
            with open(os.path.join(d, "node_modules", dep, "package.json")) as f:
                meta = json.load(f)
            v = "%s %s (node %s)" % (meta["name"], meta["version"], node)
            p = prov(meta["name"], "npm", "npm install %s@%s" % (meta["name"], meta["version"]))
        for kind, code in kinds.items():
            path = os.path.join(d, "%s-%s.mjs" % (stack, kind))
            with open(path, "w") as f:
                f.write("const [U, K, B] = %s;\n%s\ntry {\n%s\n} catch (e) { console.error(String(e).slice(0, 300)); }\n"
                        % (json.dumps([cap.url, KEY, BODY_A]), import_of(dep), code))
            cap.run(stack, family, v, p, kind, ["node", path], NOTES.get(stack), wait=1.0, cwd=d)
    cap.write()


if __name__ == "__main__":
    main()
