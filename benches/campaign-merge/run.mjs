// Runs a wasm32-wasip1 command module in Node's V8; the library's proxy-wasm imports (never
// called by the bench) are stubbed.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const wasi = new WASI({ version: 'preview1', args: [], env: {} });
const mod = await WebAssembly.compile(await readFile(process.argv[2]));
const imports = wasi.getImportObject();
for (const imp of WebAssembly.Module.imports(mod)) {
  if (imp.module === 'env') {
    imports.env ??= {};
    imports.env[imp.name] = () => 0;
  }
}
const inst = await WebAssembly.instantiate(mod, imports);
// The library also exports `_initialize`, which WASI.start refuses next to `_start`.
wasi.start({ exports: { memory: inst.exports.memory, _start: inst.exports._start } });
