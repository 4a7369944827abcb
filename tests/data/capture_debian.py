#!/usr/bin/env python3
"""Captures the HTTP stacks that come from Debian packages: curl, wget, wget2, Go net/http,
Java (java.net.http.HttpClient and HttpURLConnection), Ruby net/http, PHP's curl extension
and Guzzle. Installs them with apt-get (root), writes the `debian` entries of
tests/data/clients.json. Sources are written to /tmp/dg-capture/debian and run from there.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from capture_lib import BODY_A, KEY, Capture, apt, deb_version, must, prov, sh  # noqa: E402

PACKAGES = ["curl", "wget", "wget2", "golang-go", "default-jdk-headless", "ruby", "php-cli", "php-curl",
            "php-guzzlehttp-guzzle"]

GO = """package main
import ("net/http"; "os"; "strings")
func main() {
  var req *http.Request
  if os.Args[2] == "get" {
    req, _ = http.NewRequest("GET", os.Args[1]+"/v1/models", nil)
    req.Header.Set("Authorization", "Bearer %(key)s")
  } else {
    req, _ = http.NewRequest("POST", os.Args[1]+"/v1/messages", strings.NewReader(os.Args[3]))
    req.Header.Set("x-api-key", "%(key)s"); req.Header.Set("anthropic-version", "2023-06-01")
    req.Header.Set("content-type", "application/json")
  }
  resp, err := http.DefaultClient.Do(req); if err == nil { resp.Body.Close() }
}
"""

JAVA_CLIENT = """import java.net.URI; import java.net.http.*;
public class Client { public static void main(String[] a) throws Exception {
  HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  HttpRequest.Builder b = a[1].equals("get")
    ? HttpRequest.newBuilder(URI.create(a[0] + "/v1/models")).header("Authorization", "Bearer %(key)s").GET()
    : HttpRequest.newBuilder(URI.create(a[0] + "/v1/messages")).header("x-api-key", "%(key)s")
        .header("anthropic-version", "2023-06-01").header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(a[2]));
  c.send(b.build(), HttpResponse.BodyHandlers.ofString());
} }
"""

JAVA_URLCONN = """import java.net.*; import java.io.*;
public class UrlConn { public static void main(String[] a) throws Exception {
  boolean get = a[1].equals("get");
  HttpURLConnection c = (HttpURLConnection) new URL(a[0] + (get ? "/v1/models" : "/v1/messages")).openConnection();
  if (get) { c.setRequestProperty("Authorization", "Bearer %(key)s"); }
  else {
    c.setRequestMethod("POST"); c.setDoOutput(true);
    c.setRequestProperty("x-api-key", "%(key)s"); c.setRequestProperty("anthropic-version", "2023-06-01");
    c.setRequestProperty("content-type", "application/json");
    try (OutputStream o = c.getOutputStream()) { o.write(a[2].getBytes("UTF-8")); }
  }
  c.getInputStream().readAllBytes();
} }
"""

RUBY = """require 'net/http'; require 'json'
u, kind, body = ARGV
if kind == 'get'
  uri = URI(u + '/v1/models')
  Net::HTTP.get(uri, {'Authorization' => 'Bearer %(key)s'})
else
  uri = URI(u + '/v1/messages')
  Net::HTTP.post(uri, body, {'x-api-key' => '%(key)s', 'anthropic-version' => '2023-06-01',
                             'content-type' => 'application/json'})
end
"""

PHP_CURL = """<?php
[$_, $u, $kind, $body] = array_pad($argv, 4, '');
$h = curl_init();
curl_setopt($h, CURLOPT_RETURNTRANSFER, true);
if ($kind === 'get') {
  curl_setopt($h, CURLOPT_URL, $u . '/v1/models');
  curl_setopt($h, CURLOPT_HTTPHEADER, ['Authorization: Bearer %(key)s']);
} else {
  curl_setopt($h, CURLOPT_URL, $u . '/v1/messages');
  curl_setopt($h, CURLOPT_POST, true);
  curl_setopt($h, CURLOPT_POSTFIELDS, $body);
  curl_setopt($h, CURLOPT_HTTPHEADER, ['x-api-key: %(key)s', 'anthropic-version: 2023-06-01',
                                       'content-type: application/json']);
}
curl_exec($h);
"""

GUZZLE = """<?php
require '/usr/share/php/GuzzleHttp/autoload.php';
[$_, $u, $kind, $body] = array_pad($argv, 4, '');
$c = new GuzzleHttp\\Client(['base_uri' => $u, 'http_errors' => false]);
if ($kind === 'get') {
  $c->request('GET', '/v1/models', ['headers' => ['Authorization' => 'Bearer %(key)s']]);
} else {
  $c->request('POST', '/v1/messages', ['headers' => ['x-api-key' => '%(key)s', 'anthropic-version' => '2023-06-01'],
                                        'json' => json_decode($body, true)]);
}
"""


def out(cmd, err=False):
    """First line a version command prints (on stderr with `err`)."""
    r = sh(cmd)
    text = (r.stderr if err else r.stdout) if r else ""
    return (text.strip().splitlines() or ["? ? ?"])[0]


def main():
    apt(*PACKAGES)
    cap = Capture("debian")
    d, u = cap.dir, cap.url

    def write(name, text):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text % {"key": KEY})
        return path

    get_h = ["-H", "Authorization: Bearer " + KEY]
    post_h = ["-H", "x-api-key: " + KEY, "-H", "anthropic-version: 2023-06-01", "-H", "content-type: application/json"]
    p = prov("curl", "debian", "apt-get install curl")
    v = out(["curl", "--version"]).split()[1]
    cap.run("curl", "curl", v, p, "get", ["curl", "-s", "-o", "/dev/null", *get_h, u + "/v1/models"])
    cap.run("curl", "curl", v, p, "post", ["curl", "-s", "-o", "/dev/null", *post_h, "-d", BODY_A, u + "/v1/messages"],
            "curl -H ... -d JSON")

    for tool, pkg in (("wget", "wget"), ("wget2", "wget2")):
        p, v = prov(pkg, "debian", "apt-get install " + pkg), out([tool, "--version"]).split()[2]
        quiet = ["-q", "-O", "/dev/null", "--tries=1"]
        cap.run(tool, tool, v, p, "get", [tool, *quiet, "--header=Authorization: Bearer " + KEY, u + "/v1/models"])
        cap.run(tool, tool, v, p, "post", [tool, *quiet, "--header=x-api-key: " + KEY, "--header=anthropic-version: 2023-06-01",
                                            "--header=content-type: application/json", "--post-data=" + BODY_A,
                                            u + "/v1/messages"])

    src = write("main.go", GO)
    p, v = prov("golang-go", "debian", "apt-get install golang-go; go build main.go"), out(["go", "version"]).split()[2]
    go_env = dict(os.environ, GO111MODULE="off", GOCACHE=os.path.join(d, "gocache"), GOPATH=os.path.join(d, "gopath"))
    must(["go", "build", "-o", os.path.join(d, "gohttp"), src], cwd=d, env=go_env)
    for kind in ("get", "post"):
        cap.run("go-net-http", "go", v, p, kind, [os.path.join(d, "gohttp"), u, kind, BODY_A])

    jv = "openjdk " + out(["java", "-version"], err=True).split('"')[1]
    for cls, text, stack, note in (
        ("Client", JAVA_CLIENT, "java-httpclient", "java.net.http.HttpClient pinned to HTTP/1.1 (its default "
                                                   "h2c upgrade headers appear only on cleartext)"),
        ("UrlConn", JAVA_URLCONN, "java-urlconnection", "java.net.HttpURLConnection"),
    ):
        src = write(cls + ".java", text)
        p = prov("default-jdk-headless", "debian", "apt-get install default-jdk-headless; java %s.java" % cls)
        for kind in ("get", "post"):
            cap.run(stack, "java", jv, p, kind, ["java", src, u, kind, BODY_A], note, cwd=d)

    src = write("client.rb", RUBY)
    p, v = prov("ruby", "debian", "apt-get install ruby"), "ruby " + out(["ruby", "-e", "print RUBY_VERSION"])
    for kind in ("get", "post"):
        cap.run("ruby-net-http", "ruby", v, p, kind, ["ruby", src, u, kind, BODY_A])

    for stack, family, pkg, text in (("php-curl", "none", "php-curl", PHP_CURL),
                                     ("php-guzzle", "guzzle", "php-guzzlehttp-guzzle", GUZZLE)):
        src = write(stack + ".php", text)
        p = prov(pkg, "debian", "apt-get install php-cli " + pkg)
        php = out(["php", "-r", "echo PHP_VERSION;"])
        v = "php " + php if family == "none" else "guzzle %s (php %s)" % (deb_version(pkg).split("-")[0], php)
        note = "no User-Agent unless the caller sets one" if family == "none" else None
        for kind in ("get", "post"):
            cap.run(stack, family, v, p, kind, ["php", src, u, kind, BODY_A], note)
    cap.write()


if __name__ == "__main__":
    main()
