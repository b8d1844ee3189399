// The release module must stay small enough for edge runtimes: fails above
// 256 KiB. Reads what drivers/wasm/build.sh built (the wasm-release profile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const LIMIT = 256 * 1024;

for (const target of ['node', 'web']) {
  test(`the ${target} release .wasm is at most 256 KiB`, (t) => {
    const wasm = readFileSync(new URL(`../../pkg/${target}/ftpwire_wasm_bg.wasm`, import.meta.url));
    const gzip = gzipSync(wasm, { level: 9 }).length;
    t.diagnostic(`pkg/${target}/ftpwire_wasm_bg.wasm: ${wasm.length} bytes raw, ${gzip} bytes gzip -9`);
    assert.ok(WebAssembly.validate(wasm), 'a valid WebAssembly module');
    assert.ok(wasm.length <= LIMIT, `${wasm.length} bytes is over the ${LIMIT}-byte budget`);
  });
}
