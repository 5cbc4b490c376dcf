// A zstd frame of raw (stored) blocks, RFC 8878 §3.1.1: a valid .zst every decoder must read, written without a
// compressor (Node 20 has none). Used by the Codex benchmark corpus and the Codex test fixtures' generator.

export function rawZstdFrame(data) {
  const header = Buffer.alloc(13);
  header.writeUInt32LE(0xfd2fb528, 0);
  header[4] = 0xe0; // Frame_Content_Size on 8 bytes, Single_Segment, no checksum, no dictionary
  header.writeBigUInt64LE(BigInt(data.length), 5);
  const parts = [header];
  const BLOCK = 128 * 1024;
  let at = 0;
  do {
    const size = Math.min(BLOCK, data.length - at);
    const last = at + size >= data.length ? 1 : 0;
    const block = Buffer.alloc(3);
    block.writeUIntLE((size << 3) | last, 0, 3); // Block_Type 0 = Raw_Block
    parts.push(block, data.subarray(at, at + size));
    at += size;
  } while (at < data.length);
  return Buffer.concat(parts);
}
