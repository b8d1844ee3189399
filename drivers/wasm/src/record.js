// Decodes a record the module wrote (src/record.rs: the encoding) into the
// JS value it stands for; `bytes` is a view of the module's memory, valid
// only during the call, so every string and Uint8Array is copied out.
const utf8 = new TextDecoder();

export function decodeRecord(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const value = () => {
    const tag = bytes[at++];
    if (tag < 4) return tag === 1 ? null : tag === 3;
    if (tag === 4) {
      at += 8;
      return view.getFloat64(at - 8, true);
    }
    if (tag < 7) {
      const end = at + 4 + view.getUint32(at, true);
      const payload = bytes.slice(at + 4, end);
      at = end;
      return tag === 5 ? utf8.decode(payload) : payload;
    }
    const object = {};
    for (let length = bytes[at++]; length !== 0; length = bytes[at++]) {
      const key = utf8.decode(bytes.subarray(at, at + length));
      at += length;
      object[key] = value();
    }
    return object;
  };
  return value();
}
