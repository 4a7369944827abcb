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

# stack -> (family, npm dependency whose version is reported (None: node itself), {kind: code}).
STACKS = {
    "node-fetch-builtin": ("node", None, {
        "get": "await (await fetch(U + '/v1/models', {headers: %s})).text();" % BEARER,
        "post": "await (await fetch(U + '/v1/messages', {method: 'POST', headers: %s, body: B})).text();" % JSONH}),
    "undici-request": ("none", "undici", {
        "get": "const {request} = await import('undici'); await (await request(U + '/v1/models', {headers: %s})).body.text();" % BEARER,
        "post": "const {request} = await import('undici'); await (await request(U + '/v1/messages', {method: 'POST', headers: %s, body: B})).body.text();" % JSONH}),
    "node-http": ("none", None, {
        "get": "const http = await import('node:http'); await new Promise(ok => http.get(U + '/v1/models', {headers: %s}, r => { r.resume(); r.on('end', ok); }));" % BEARER,
        "post": "const http = await import('node:http'); await new Promise(ok => { const q = http.request(U + '/v1/messages', {method: 'POST', headers: Object.assign(%s, {'content-length': Buffer.byteLength(B)})}, r => { r.resume(); r.on('end', ok); }); q.end(B); });" % JSONH}),
    "axios": ("axios", "axios", {
        "get": "const axios = (await import('axios')).default; await axios.get(U + '/v1/models', {headers: %s});" % BEARER,
        "post": "const axios = (await import('axios')).default; await axios.post(U + '/v1/messages', JSON.parse(B), {headers: %s});" % AH}),
    "axios-0": ("axios", "axios0", {
        "get": "const axios = (await import('axios0')).default; await axios.get(U + '/v1/models', {headers: %s});" % BEARER,
        "post": "const axios = (await import('axios0')).default; await axios.post(U + '/v1/messages', JSON.parse(B), {headers: %s});" % AH}),
    "node-fetch-2": ("node-fetch", "node-fetch", {
        "get": "const f = (await import('node-fetch')).default; await (await f(U + '/v1/models', {headers: %s})).text();" % BEARER,
        "post": "const f = (await import('node-fetch')).default; await (await f(U + '/v1/messages', {method: 'POST', headers: %s, body: B})).text();" % JSONH}),
    "got": ("got", "got", {
        "get": "const got = (await import('got')).default; await got.get(U + '/v1/models', {headers: %s, retry: {limit: 0}}).text();" % BEARER,
        "post": "const got = (await import('got')).default; await got.post(U + '/v1/messages', {json: JSON.parse(B), headers: %s, retry: {limit: 0}}).text();" % AH}),
    "superagent": ("none", "superagent", {
        "get": "const sa = (await import('superagent')).default; await sa.get(U + '/v1/models').set(%s);" % BEARER,
        "post": "const sa = (await import('superagent')).default; await sa.post(U + '/v1/messages').set(%s).send(JSON.parse(B));" % AH}),
    "needle": ("needle", "needle", {
        "get": "const needle = (await import('needle')).default; await needle('get', U + '/v1/models', null, {headers: %s});" % BEARER,
        "post": "const needle = (await import('needle')).default; await needle('post', U + '/v1/messages', JSON.parse(B), {json: true, headers: %s});" % AH}),
    "openai-node": ("openai-sdk-js", "openai", {
        "get": "const O = (await import('openai')).default; await new O({apiKey: K, baseURL: U + '/v1', maxRetries: 0}).models.list();",
        "post": "const O = (await import('openai')).default; await new O({apiKey: K, baseURL: U + '/v1', maxRetries: 0}).chat.completions.create({model: 'gpt-test', messages: %s});" % MSG}),
    "openai-node-4": ("openai-sdk-js", "openai4", {
        "get": "const O = (await import('openai4')).default; await new O({apiKey: K, baseURL: U + '/v1', maxRetries: 0}).models.list();",
        "post": "const O = (await import('openai4')).default; await new O({apiKey: K, baseURL: U + '/v1', maxRetries: 0}).chat.completions.create({model: 'gpt-test', messages: %s});" % MSG}),
    "openai-node-3": ("openai-sdk-js", "openai3", {
        "get": "const {Configuration, OpenAIApi} = await import('openai3'); await new OpenAIApi(new Configuration({apiKey: K, basePath: U + '/v1'})).listModels();",
        "post": "const {Configuration, OpenAIApi} = await import('openai3'); await new OpenAIApi(new Configuration({apiKey: K, basePath: U + '/v1'})).createChatCompletion({model: 'gpt-test', messages: %s});" % MSG}),
    "anthropic-node": ("anthropic-sdk-js", "@anthropic-ai/sdk", {
        "get": "const A = (await import('@anthropic-ai/sdk')).default; await new A({apiKey: K, baseURL: U, maxRetries: 0}).models.list();",
        "post": "const A = (await import('@anthropic-ai/sdk')).default; await new A({apiKey: K, baseURL: U, maxRetries: 0}).messages.create({model: 'claude-test', max_tokens: 16, messages: %s});" % MSG}),
    "anthropic-node-0": ("anthropic-sdk-js", "anthropic0", {
        "post": "const A = (await import('anthropic0')).default; await new A({apiKey: K, baseURL: U, maxRetries: 0}).messages.create({model: 'claude-test', max_tokens: 16, messages: %s});" % MSG}),
    "vercel-ai": ("ai-sdk", "ai", {
        "post": "const {generateText} = await import('ai'); const {createOpenAI} = await import('@ai-sdk/openai');\n"
                "await generateText({model: createOpenAI({apiKey: K, baseURL: U + '/v1'}).chat('gpt-test'), prompt: 'hi', maxRetries: 0});"}),
}
NOTES = {
    "node-fetch-builtin": "Node's global fetch() (bundled undici)",
    "undici-request": "undici.request() of the npm package",
    "node-http": "bare node:http request; no User-Agent unless the caller sets one",
    "superagent": "superagent sends no User-Agent in Node unless the caller sets one",
    "anthropic-node-0": "this version has no models.list: POST only",
    "vercel-ai": "generateText with @ai-sdk/openai's chat model (sends through global fetch); POST only",
}


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
                f.write("const [U, K, B] = %s;\ntry {\n%s\n} catch (e) { console.error(String(e).slice(0, 300)); }\n"
                        % (json.dumps([cap.url, KEY, BODY_A]), code))
            cap.run(stack, family, v, p, kind, ["node", path], NOTES.get(stack), wait=1.0, cwd=d)
    cap.write()


if __name__ == "__main__":
    main()
