// Makes `require('vscode')` resolve to the fake for the host modules under test. Import this first.

import Module from 'node:module';
import * as path from 'node:path';

const fake = path.join(__dirname, 'fakeVscode.ts');
const moduleWithResolve = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const original = moduleWithResolve._resolveFilename;
moduleWithResolve._resolveFilename = function resolve(request: string, ...rest: unknown[]): string {
  return request === 'vscode' ? original.call(this, fake, ...rest) : original.call(this, request, ...rest);
};
