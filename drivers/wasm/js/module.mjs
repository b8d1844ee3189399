// The ftpwire server modules, as built by drivers/wasm/build.sh: `pkg/node`
// (features `server`), what a server host loads, and `pkg/node-proxy`
// (`server,proxy`: the same with the PROXY protocol's Balancers and
// ProxyHeaderReader), which the host loads instead only when it serves load
// balancers (--proxy-protocol-from). The client is a module of its own
// (./client-module.mjs), so neither host loads the other half.
import { load } from './module-loader.mjs';

const plain = load('node');
let proxied = null;

export const { Session, ServerConfig, AsciiEncoder, AsciiDecoder, sameHost, startsWithProxyHeader } = plain;

/**
 * The server module to run sessions with: the one with the PROXY protocol
 * (loaded on first use) when `proxy`, else the plain one. Objects of one
 * module cannot be handed to the other: a host takes its ServerConfig,
 * Session, Balancers and ProxyHeaderReader from the same module.
 */
export function serverModule(proxy) {
  if (!proxy) return plain;
  proxied ??= load('node-proxy');
  return proxied;
}
