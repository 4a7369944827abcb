#!/usr/bin/env bash
# Held-out evaluation of the weight fit: fit the state and prompt weights on half of the
# campaign scenarios and half of the captured client families, then report quality on the
# other half (scenarios, families and seeds the fit never saw).
#
#   scripts/held-out.sh            # fit (about an hour on 2 cores), then report
#   scripts/held-out.sh --report   # report only, with the committed filters/held-out/fitted.json
#
# The start policy (filters/held-out/start.json) is filters/default.json with every state and
# prompt signal weight at 10 (cluster.accounts_per_ja4 at 0), so the fit owes nothing to the
# default's weights. Fit set: baseline, datacenter_pool, mobile_impersonate,
# residential_proxy_pool, sticky_residential; seed 11; client families FIT below. Report set:
# baseline, hydra_mixed, low_and_slow, sdk_mimic, spoofed_browser, agentic_campaign, poisoning;
# seeds 61-63; client families REPORT below.
set -euo pipefail
cd "$(dirname "$0")/.."
FIT=chrome,firefox,anthropic-python,openai-node,openai-python-1,anthropic-python-0.34,openai-node-4,anthropic-node-0,litellm,vercel-ai,curl,wget2,python-requests,python-httpx-async,python-urllib,pycurl,node-fetch,axios-0,got,needle,node-http,java-httpclient,ruby,guzzle,ureq
REPORT=edge,anthropic-node,openai-python,openai-python-0,anthropic-python-0.2,openai-node-3,litellm-anthropic,langchain-openai,wget,httpie,python-httpx,aiohttp,python-urllib3,niquests,axios,node-fetch-2,superagent,node-undici-request,go,java-urlconnection,php-curl,reqwest,ureq-2
OUT=${OUT:-target/held-out}
mkdir -p "$OUT/fit" "$OUT/report"
for s in baseline datacenter_pool mobile_impersonate residential_proxy_pool sticky_residential; do cp "scenarios/$s.json" "$OUT/fit/"; done
for s in baseline hydra_mixed low_and_slow sdk_mimic spoofed_browser agentic_campaign poisoning; do cp "scenarios/$s.json" "$OUT/report/"; done
cargo build --release --quiet
DG=target/release/distill-guard
POLICY=filters/held-out/fitted.json
if [[ "${1:-}" != "--report" ]]; then
  POLICY="$OUT/fitted.json"
  "$DG" fit --policy filters/held-out/start.json --scenarios "$OUT/fit" --seeds 11 --jobs 2 --rounds 2 \
    --legit-clients "$FIT" --out "$POLICY"
fi
echo "== fitted weights ($POLICY), report set, seeds 61-63"
"$DG" quality --policy "$POLICY" --scenarios "$OUT/report" --seeds 61,62,63 --jobs 2 --families --legit-clients "$REPORT"
echo "== filters/default.json on the same report set"
"$DG" quality --policy filters/default.json --scenarios "$OUT/report" --seeds 61,62,63 --jobs 2 --families --legit-clients "$REPORT"
