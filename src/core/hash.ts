// Digests, with node:crypto loaded on first use. Requiring it loads some forty of Node's internal modules (ciphers,
// keys, X.509, streams), a few ms of every start, and most runs hash nothing: only rare records without an id, a
// few agents' project names and the budget hook do.

export function digest(algorithm: 'sha1' | 'sha256', data: string | Uint8Array, encoding: 'hex' | 'base64'): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash(algorithm).update(data).digest(encoding);
}

export function randomHex(bytes: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  return randomBytes(bytes).toString('hex');
}
