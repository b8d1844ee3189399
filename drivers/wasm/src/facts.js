// Listing entries and file facts as bytes for the module to read
// (src/facts.rs reads them): one call hands over a whole batch, where
// reading each property from Rust costs an import call and some glue per
// property (README "Size"). All numbers are little-endian. encodeEntries
// writes 1 (0 if `entries` is not an array), then each entry:
//
//   entry:  name     u32 length, then the bytes (0xffffffff: not a string
//                    or Uint8Array)
//           facts    (below)
//           link     u32 length, then the bytes (0xffffffff: none, null or
//                    undefined; 0xfffffffe: not a string or Uint8Array)
//   facts:  kind     u8 length, then its UTF-8 (255: not a string, or longer
//                    than 254 bytes)
//           size     f64 (NaN: not a number)
//           modified f64 (NaN: not a number)
//           mode     f64 (NaN: not a number)
const utf8 = new TextEncoder();
const NONE = 0xffffffff;
const WRONG = 0xfffffffe;
let out = new Uint8Array(4096);
// A property, or undefined if reading it throws (a getter's error becomes
// the module's message about that property, as when Rust read it with
// Reflect.get; an exception must not unwind through the module).
const get = (object, key) => {
  try {
    return object[key];
  } catch {
    return undefined;
  }
};
let view = new DataView(out.buffer);
let length = 0;

function room(n) {
  if (length + n <= out.length) return;
  const bigger = new Uint8Array(Math.max(out.length * 2, length + n));
  bigger.set(out.subarray(0, length));
  out = bigger;
  view = new DataView(out.buffer);
}

function name(value, absent) {
  const bytes = typeof value === 'string' ? utf8.encode(value) : value instanceof Uint8Array ? value : null;
  room(4 + (bytes === null ? 0 : bytes.length));
  if (bytes === null) {
    view.setUint32(length, absent, true);
    length += 4;
    return;
  }
  view.setUint32(length, bytes.length, true);
  out.set(bytes, length + 4);
  length += 4 + bytes.length;
}

function number(value) {
  room(8);
  view.setFloat64(length, typeof value === 'number' ? value : NaN, true);
  length += 8;
}

function facts(value) {
  const object = value !== null && typeof value === 'object' ? value : {};
  const given = get(object, 'kind');
  const kind = typeof given === 'string' ? utf8.encode(given) : null;
  const usable = kind !== null && kind.length < 255;
  room(1 + (usable ? kind.length : 0));
  out[length++] = usable ? kind.length : 255;
  if (usable) {
    out.set(kind, length);
    length += kind.length;
  }
  number(get(object, 'size'));
  number(get(object, 'modified'));
  number(get(object, 'mode'));
}

export function encodeFacts(value) {
  length = 0;
  facts(value);
  return out.subarray(0, length);
}

export function encodeEntries(entries) {
  length = 0;
  room(1);
  out[length++] = Array.isArray(entries) ? 1 : 0;
  if (!Array.isArray(entries)) return out.subarray(0, length);
  for (const entry of entries) {
    const object = entry !== null && typeof entry === 'object' ? entry : {};
    name(get(object, 'name'), NONE);
    facts(get(object, 'facts'));
    const link = get(object, 'linkTarget');
    if (link === null || link === undefined) name(null, NONE);
    else name(link, WRONG);
  }
  return out.subarray(0, length);
}
