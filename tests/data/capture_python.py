#!/usr/bin/env python3
"""Captures Python HTTP stacks from PyPI: requests, httpx (sync and async), aiohttp,
urllib3, urllib (stdlib), pycurl, niquests, HTTPie, the official OpenAI and Anthropic SDKs
in old and current major versions, and wrappers built on them (litellm, langchain-openai).

Each group of packages gets its own venv under /tmp/dg-capture/python-venvs (versions that
cannot share one are kept apart); writes the `python` entries of tests/data/clients.json.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from capture_lib import BODY_A, KEY, Capture, log, must, prov, sh  # noqa: E402

# venv name -> pip requirements.
VENVS = {
    "base": ["requests", "httpx", "aiohttp", "urllib3", "pycurl", "httpie", "openai", "anthropic"],
    # niquests installs urllib3-future, which takes over the `urllib3` import: its own venv.
    "niquests": ["niquests"],
    "openai0": ["openai==0.28.1"],
    "openai1": ["openai==1.30.5", "httpx<0.28"],
    "anthropic0": ["anthropic==0.2.10"],
    "anthropic034": ["anthropic==0.34.2", "httpx<0.28"],
    "litellm": ["litellm"],
    "langchain": ["langchain-openai"],
}

MSG = "[{'role': 'user', 'content': 'hi'}]"
AH = "{'x-api-key': K, 'anthropic-version': '2023-06-01'}"
BEARER = "{'Authorization': 'Bearer ' + K}"
ASYNC = "import asyncio\nasync def main():\n%s\nasyncio.run(main())"

OPENAI = {
    "get": "import openai; openai.OpenAI(api_key=K, base_url=U + '/v1', max_retries=0).models.list()",
    "post": "import openai; openai.OpenAI(api_key=K, base_url=U + '/v1', max_retries=0).chat.completions.create("
            "model='gpt-test', messages=%s)" % MSG}
ANTHROPIC_POST = ("import anthropic; anthropic.Anthropic(api_key=K, base_url=U, max_retries=0).messages.create("
                  "model='claude-test', max_tokens=16, messages=%s)" % MSG)

# stack -> (family, venv, package whose version is reported, {kind: code}); code sees U, K, B.
STACKS = {
    "python-requests": ("python-requests", "base", "requests", {
        "get": "import requests; requests.get(U + '/v1/models', headers=%s)" % BEARER,
        "post": "import requests, json; requests.post(U + '/v1/messages', json=json.loads(B), headers=%s)" % AH}),
    "python-httpx": ("python-httpx", "base", "httpx", {
        "get": "import httpx; httpx.get(U + '/v1/models', headers=%s)" % BEARER,
        "post": "import httpx, json; httpx.post(U + '/v1/messages', json=json.loads(B), headers=%s)" % AH}),
    "python-httpx-async": ("python-httpx", "base", "httpx", {
        "get": "import httpx\n" + ASYNC % "    async with httpx.AsyncClient() as c: await c.get(U + '/v1/models', headers=%s)" % BEARER,
        "post": "import httpx, json\n" + ASYNC % "    async with httpx.AsyncClient() as c: await c.post(U + '/v1/messages', json=json.loads(B), headers=%s)" % AH}),
    "aiohttp": ("aiohttp", "base", "aiohttp", {
        "get": "import aiohttp\n" + ASYNC % "    async with aiohttp.ClientSession() as s:\n        async with s.get(U + '/v1/models', headers=%s) as r: await r.read()" % BEARER,
        "post": "import aiohttp, json\n" + ASYNC % "    async with aiohttp.ClientSession() as s:\n        async with s.post(U + '/v1/messages', json=json.loads(B), headers=%s) as r: await r.read()" % AH}),
    "python-urllib3": ("python-urllib3", "base", "urllib3", {
        "get": "import urllib3; urllib3.request('GET', U + '/v1/models', headers=%s)" % BEARER,
        "post": "import urllib3, json; urllib3.request('POST', U + '/v1/messages', json=json.loads(B), headers=%s)" % AH}),
    "python-urllib": ("python-urllib", "base", None, {
        "get": "import urllib.request as u; u.urlopen(u.Request(U + '/v1/models', headers=%s)).read()" % BEARER,
        "post": "import urllib.request as u; h = %s; h['content-type'] = 'application/json'\n"
                "u.urlopen(u.Request(U + '/v1/messages', data=B.encode(), headers=h)).read()" % AH}),
    "pycurl": ("pycurl", "base", "pycurl", {
        "get": "import pycurl, io; c = pycurl.Curl(); c.setopt(c.URL, U + '/v1/models'); c.setopt(c.WRITEDATA, io.BytesIO())\n"
               "c.setopt(c.HTTPHEADER, ['Authorization: Bearer ' + K]); c.perform()",
        "post": "import pycurl, io; c = pycurl.Curl(); c.setopt(c.URL, U + '/v1/messages'); c.setopt(c.WRITEDATA, io.BytesIO())\n"
                "c.setopt(c.HTTPHEADER, ['x-api-key: ' + K, 'anthropic-version: 2023-06-01', 'content-type: application/json'])\n"
                "c.setopt(c.POSTFIELDS, B); c.perform()"}),
    "niquests": ("niquests", "niquests", "niquests", {
        "get": "import niquests; niquests.get(U + '/v1/models', headers=%s)" % BEARER,
        "post": "import niquests, json; niquests.post(U + '/v1/messages', json=json.loads(B), headers=%s)" % AH}),
    "openai-python": ("openai-sdk-python", "base", "openai", OPENAI),
    "openai-python-1": ("openai-sdk-python", "openai1", "openai", OPENAI),
    "openai-python-0": ("openai-sdk-python", "openai0", "openai", {
        "get": "import openai; openai.api_key = K; openai.api_base = U + '/v1'; openai.Model.list()",
        "post": "import openai; openai.api_key = K; openai.api_base = U + '/v1'\n"
                "openai.ChatCompletion.create(model='gpt-test', messages=%s)" % MSG}),
    "anthropic-python": ("anthropic-sdk-python", "base", "anthropic", {
        "get": "import anthropic; anthropic.Anthropic(api_key=K, base_url=U, max_retries=0).models.list()",
        "post": ANTHROPIC_POST}),
    "anthropic-python-0.34": ("anthropic-sdk-python", "anthropic034", "anthropic", {"post": ANTHROPIC_POST}),
    "anthropic-python-0.2": ("python-requests", "anthropic0", "anthropic", {
        "post": "import anthropic; anthropic.Client(api_key=K, api_url=U).completion(prompt=anthropic.HUMAN_PROMPT + "
                "' hi' + anthropic.AI_PROMPT, model='claude-test', max_tokens_to_sample=16)"}),
    "litellm": ("openai-sdk-python", "litellm", "litellm", {
        "post": "import litellm; litellm.completion(model='openai/gpt-test', api_base=U + '/v1', api_key=K, "
                "messages=%s, num_retries=0)" % MSG}),
    "litellm-anthropic": ("litellm", "litellm", "litellm", {
        "post": "import litellm; litellm.completion(model='anthropic/claude-test', api_base=U, api_key=K, "
                "messages=%s, max_tokens=16, num_retries=0)" % MSG}),
    "langchain-openai": ("openai-sdk-python", "langchain", "langchain-openai", {
        "post": "from langchain_openai import ChatOpenAI; ChatOpenAI(model='gpt-test', api_key=K, base_url=U + '/v1', "
                "max_retries=0).invoke('hi')"}),
}
NOTES = {
    "python-httpx-async": "httpx.AsyncClient",
    "openai-python-0": "openai 0.28 (pre-Stainless, sends through requests)",
    "anthropic-python-0.34": "this version has no models.list: POST only",
    "anthropic-python-0.2": "pre-Stainless client (legacy /v1/complete API) on requests: requests' own User-Agent "
                            "plus an Anthropic-SDK header; POST only",
    "litellm": "litellm.completion with an openai/ model: sends through the openai SDK; POST only",
    "litellm-anthropic": "litellm.completion with an anthropic/ model: litellm's own httpx call; POST only",
    "langchain-openai": "ChatOpenAI.invoke: sends through the openai SDK; POST only",
}


def venv(cap, name):
    # Venvs live beside the recreated work dir: a second run reuses them.
    path = os.path.join(cap.dir + "-venvs", name)
    if not os.path.exists(path):
        must([sys.executable, "-m", "venv", path])
        must([os.path.join(path, "bin", "pip"), "install", "-q", *VENVS[name]], timeout=1200)
    return os.path.join(path, "bin", "python")


def version(py, package):
    code = ("import sys; print('python ' + sys.version.split()[0])" if package is None else
            "import importlib.metadata as m; print(m.version(%r))" % package)
    return sh([py, "-c", code]).stdout.strip()


def main():
    cap = Capture("python")
    for stack, (family, env, package, kinds) in STACKS.items():
        py = venv(cap, env)
        v = version(py, package)
        p = prov(package or "cpython (urllib.request)", "pypi" if package else "python stdlib",
                 "pip install %s (venv)" % " ".join(VENVS[env]) if package else "venv of " + sys.executable)
        for kind, code in kinds.items():
            prog = "U, K, B = %r, %r, %r\n%s" % (cap.url, KEY, BODY_A, code)
            cap.run(stack, family, v, p, kind, [py, "-c", prog], NOTES.get(stack), wait=1.0)
    py = venv(cap, "base")
    http = os.path.join(os.path.dirname(py), "http")
    v, p = version(py, "httpie"), prov("httpie", "pypi", "pip install httpie (venv)")
    cap.run("httpie", "httpie", v, p, "get", [http, "--ignore-stdin", "-q", "GET", cap.url + "/v1/models",
                                              "Authorization:Bearer " + KEY])
    body = json.loads(BODY_A)
    cap.run("httpie", "httpie", v, p, "post", [http, "--ignore-stdin", "-q", "POST", cap.url + "/v1/messages",
                                               "x-api-key:" + KEY, "anthropic-version:2023-06-01",
                                               "model=" + body["model"], "max_tokens:=16",
                                               "messages:=" + json.dumps(body["messages"])], "http POST URL key:value field=value")
    log("python: done")
    cap.write()


if __name__ == "__main__":
    main()
