// The ftpwire server module, as built by drivers/wasm/build.sh (features
// `server,proxy`): what a server host loads. The client is a module of its
// own (./client-module.mjs), so neither host loads the other half.
import { load } from './module-loader.mjs';

export const {
  Session,
  ServerConfig,
  AsciiEncoder,
  AsciiDecoder,
  sameHost,
  Balancers,
  ProxyHeaderReader,
  startsWithProxyHeader,
} = load('node');
