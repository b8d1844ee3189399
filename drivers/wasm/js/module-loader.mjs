// Loads one of the modules drivers/wasm/build.sh builds (wasm-bindgen
// --target nodejs, CommonJS): `pkg/node` (server) or `pkg/node-client`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The bindings built into `pkg/<dir>`, or an error saying how to build them. */
export function load(dir) {
  try {
    return require(`../pkg/${dir}/ftpwire_wasm.js`);
  } catch (error) {
    if (error.code === 'MODULE_NOT_FOUND') {
      throw new Error(`the ftpwire WebAssembly module pkg/${dir} is not built: run drivers/wasm/build.sh first`, {
        cause: error,
      });
    }
    throw error;
  }
}
