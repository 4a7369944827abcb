# workerd config: distill-guard in front of an origin on 127.0.0.1.
#   workerd serve edge/config.capnp \
#     --socket-addr http=127.0.0.1:8787 --external-addr origin=127.0.0.1:8000
# The policy comes from the DISTILL_GUARD_POLICY environment variable (policy JSON text;
# unset = built-in defaults). Build edge/pkg first: scripts/build.sh web. See edge/run.sh.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "guard", worker = .guard),
    (name = "origin", external = (address = "127.0.0.1:8000", http = ())),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "guard"),
  ],
);

const guard :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "record.mjs", esModule = embed "record.mjs"),
    (name = "fleet.mjs", esModule = embed "fleet.mjs"),
    (name = "pkg/distill_guard.js", esModule = embed "pkg/distill_guard.js"),
    (name = "pkg/distill_guard_bg.wasm", wasm = embed "pkg/distill_guard_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "POLICY", fromEnvironment = "DISTILL_GUARD_POLICY"),
    (name = "ORIGIN", service = "origin"),
  ],
);
