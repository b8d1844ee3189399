// The ftpwire WebAssembly module, as built by drivers/wasm/build.sh
// (wasm-bindgen --target nodejs).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function load() {
  try {
    return require('../pkg/node/ftpwire_wasm.js');
  } catch (error) {
    if (error.code === 'MODULE_NOT_FOUND') {
      throw new Error('the ftpwire WebAssembly module is not built: run drivers/wasm/build.sh first', {
        cause: error,
      });
    }
    throw error;
  }
}

export const {
  Session,
  ServerConfig,
  ClientSession,
  AsciiEncoder,
  AsciiDecoder,
  sameHost,
  Balancers,
  ProxyHeaderReader,
  startsWithProxyHeader,
} = load();
