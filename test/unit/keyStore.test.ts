// The ledger's key store against a Map: the same answers for every key, whatever its bytes, through growth and
// through a save and load of its bytes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyStore } from '../../src/core/keyStore';

function sampleKeys(): string[] {
  const keys: string[] = [];
  for (let i = 0; i < 5000; i++) keys.push(`cc:msg_01${i.toString(36).padStart(8, '0')}`);
  keys.push('cc:msg_caf\u00e9', 'cc:msg_cafe\u0301', 'gemini-cli:s:\u{1f600}', 'x', `long:${'k'.repeat(3000)}`, `long:${'k'.repeat(2999)}\u00e9`);
  keys.push('cc:r:req_1', 'cc:r:req_1#12345', 'codex:a:b', 'codex:a:b:');
  return keys;
}

describe('key store', () => {
  it('finds every key it holds and no other, through table and buffer growth', () => {
    const store = new KeyStore();
    const reference = new Map<string, number>();
    for (const key of sampleKeys()) {
      assert.equal(store.find(key), -1, key.slice(0, 40));
      const row = store.add(key);
      reference.set(key, row);
      assert.equal(row, reference.size - 1);
    }
    assert.equal(store.size, reference.size);
    for (const [key, row] of reference) {
      assert.equal(store.find(key), row, key.slice(0, 40));
      assert.equal(store.key(row), key);
    }
    for (const absent of ['cc:msg_01', 'cc:msg_caf', 'cc:msg_cafe', `long:${'k'.repeat(2999)}`, 'codex:a', '']) {
      assert.equal(store.find(absent), -1, absent.slice(0, 40));
    }
  });

  it('stores keys as the state file does (newline-separated UTF-8) and reads them back from those bytes', () => {
    const keys = sampleKeys();
    const store = new KeyStore();
    for (const key of keys) store.add(key);
    const bytes = store.serialize();
    assert.equal(bytes.toString('utf8'), keys.join('\n'));
    const loaded = new KeyStore(Buffer.from(bytes), keys.length);
    keys.forEach((key, row) => assert.equal(loaded.key(row), key));
    keys.forEach((key, row) => assert.equal(loaded.find(key), row));
    // And grows from there, the stored bytes untouched.
    const copy = Buffer.from(bytes);
    assert.equal(loaded.add('cc:msg_new'), keys.length);
    assert.equal(loaded.find('cc:msg_new'), keys.length);
    assert.equal(loaded.serialize().toString('utf8'), `${keys.join('\n')}\ncc:msg_new`);
    assert.deepEqual(copy, bytes);
  });

  it('an empty store, and one holding an empty key', () => {
    const empty = new KeyStore(Buffer.alloc(0), 0);
    assert.equal(empty.find('anything'), -1);
    assert.equal(empty.serialize().length, 0);
    const store = new KeyStore();
    assert.equal(store.add(''), 0);
    assert.equal(store.add('a'), 1);
    assert.equal(store.find(''), 0);
    const loaded = new KeyStore(Buffer.from(store.serialize()), 2);
    assert.equal(loaded.find(''), 0);
    assert.equal(loaded.find('a'), 1);
    assert.equal(loaded.key(0), '');
  });
});
