#!/usr/bin/env python3
"""Captures browsers from Debian packages over HTTPS: Chromium (headless,
--ignore-certificate-errors) and Firefox ESR (headless, a fresh profile whose NSS database
trusts a CA made for this run, imported with certutil from libnss3-tools). Each loads a
page (the navigation GET) whose script calls fetch() with the Anthropic API headers (the
POST). HTTPS matters: browsers send sec-fetch-* / sec-ch-ua only to secure origins (and
loopback). Writes the `browsers` entries of tests/data/clients.json, plus a documented
Safari shape (no Safari on Linux).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from capture_lib import Capture, apt, log, must, prov  # noqa: E402

FIREFOX_PREFS = {
    "browser.shell.checkDefaultBrowser": False, "app.update.enabled": False, "app.update.auto": False,
    "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.enabled": False,
    "extensions.update.enabled": False, "browser.aboutwelcome.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore", "network.dns.disablePrefetch": True,
}

# Not captured (no Safari on Linux): the desktop shape as publicly documented.
DOCUMENTED = [
    {"name": "safari-nav", "stack": "safari", "family": "safari", "version": "Safari 17 (macOS)", "method": "GET",
     "path": "/", "http_version": "HTTP/1.1", "headers": [
         ["Host", "example.test"], ["Sec-Fetch-Site", "none"], ["Connection", "keep-alive"],
         ["Upgrade-Insecure-Requests", "1"], ["Sec-Fetch-Mode", "navigate"],
         ["Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
         ["User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                        "Version/17.1 Safari/605.1.15"],
         ["Accept-Language", "en-US,en;q=0.9"], ["Sec-Fetch-Dest", "document"], ["Accept-Encoding", "gzip, deflate"]],
     "body": None},
]


def browse(cap, cmd, env=None):
    """Starts a browser on the page; returns the navigation GET and the fetch() POST."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    got, end = [], time.time() + 90
    while time.time() < end and not any(r["method"] == "POST" for r in got):
        time.sleep(0.5)
        got += cap.server.take()
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    first = lambda m: next((r for r in got if r["method"] == m), None)  # noqa: E731
    return first("GET"), first("POST")


def record(cap, stack, family, version, p, nav, post):
    for kind, req, note in (("get", nav, "navigation to the page"), ("post", post, "the page's fetch() POST JSON")):
        if req:
            cap.record(stack, family, version, p, kind, req, note)
        else:
            log("  %s-%s: nothing captured" % (stack, kind))


def main():
    apt("chromium", "firefox-esr", "libnss3-tools")
    cap = Capture("browsers", tls=True)
    page = cap.url + "/"

    v = must(["chromium", "--version"]).split()[1]
    prof = os.path.join(cap.dir, "chromium-profile")
    nav, post = browse(cap, ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--no-first-run", "--ignore-certificate-errors",
                             "--user-data-dir=" + prof, "--virtual-time-budget=5000", "--dump-dom", page])
    record(cap, "chromium", "chrome", "Chromium " + v, prov("chromium", "debian", "apt-get install chromium; "
           "headless, --ignore-certificate-errors"), nav, post)

    v = must(["firefox-esr", "--version"]).split()[-1]
    prof = os.path.join(cap.dir, "firefox-profile")
    os.makedirs(prof)
    with open(os.path.join(prof, "user.js"), "w") as f:
        for k, val in FIREFOX_PREFS.items():
            f.write('user_pref("%s", %s);\n' % (k, str(val).lower() if isinstance(val, bool) else '"%s"' % val))
    must(["certutil", "-N", "-d", "sql:" + prof, "--empty-password"])
    must(["certutil", "-A", "-d", "sql:" + prof, "-n", "dg-capture-ca", "-t", "C,,", "-i", cap.ca])
    env = dict(os.environ, HOME=cap.dir, MOZ_HEADLESS="1")
    nav, post = browse(cap, ["firefox-esr", "--headless", "--no-remote", "--profile", prof, page], env)
    record(cap, "firefox-esr", "firefox", "Firefox " + v, prov("firefox-esr", "debian", "apt-get install firefox-esr "
           "libnss3-tools; headless, fresh profile trusting a CA imported with certutil"), nav, post)
    cap.write(DOCUMENTED)


if __name__ == "__main__":
    main()
