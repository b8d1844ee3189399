// The ftpwire client module, as built by drivers/wasm/build.sh (feature
// `client`, wasm-bindgen --target nodejs): what a client host loads, without
// the server half.
import { load } from './module-loader.mjs';

export const { ClientSession } = load('node-client');
