// Every release module must stay small enough for edge runtimes. Reads what
// drivers/wasm/build.sh built (the wasm-release profile, then wasm-opt -Oz):
// the server module (features `server`; pkg/node, pkg/web), the server
// module with the PROXY protocol (`server,proxy`; pkg/node-proxy,
// pkg/web-proxy: what a host behind load balancers loads instead) and the
// client module (`client`; pkg/node-client, pkg/web-client), each with its
// budget. Issue 15's goal is 100 KiB; a budget above it is the size reached,
// rounded up to the next KiB, and the README's "Size" section says what each
// part costs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const GOAL = 100 * 1024;
const BUDGET_KIB = {
  node: 100,
  web: 100,
  'node-proxy': 126,
  'web-proxy': 126,
  'node-client': 100,
  'web-client': 100,
};

test('build.sh built exactly the modules with a budget', () => {
  const built = readdirSync(new URL('../../pkg/', import.meta.url)).sort();
  assert.deepEqual(built, Object.keys(BUDGET_KIB).sort());
});

for (const [target, kib] of Object.entries(BUDGET_KIB)) {
  const limit = kib * 1024;
  test(`the ${target} release .wasm is at most ${kib} KiB`, (t) => {
    const wasm = readFileSync(new URL(`../../pkg/${target}/ftpwire_wasm_bg.wasm`, import.meta.url));
    const gzip = gzipSync(wasm, { level: 9 }).length;
    t.diagnostic(`pkg/${target}/ftpwire_wasm_bg.wasm: ${wasm.length} bytes raw, ${gzip} bytes gzip -9`
      + ` (budget ${limit}, goal ${GOAL}: ${wasm.length <= GOAL ? 'reached' : `${wasm.length - GOAL} bytes over it`})`);
    assert.ok(WebAssembly.validate(wasm), 'a valid WebAssembly module');
    assert.ok(wasm.length <= limit, `${wasm.length} bytes is over the ${limit}-byte budget`);
  });
}
