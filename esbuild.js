// One build for the three runtimes Agent Spend ships to:
//  - the extension host (Node, CommonJS, `vscode` provided by the host),
//  - the engine worker and the CLI (plain Node),
//  - the breakdown webview (browser, IIFE).
// Types are checked separately by `tsc --noEmit` (npm run typecheck): esbuild only strips them.
const esbuild = require('esbuild');
const { cliShebang } = require('./scripts/shebang');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// The price table is most of the code by size; it is loaded on first use from its own file, so that a warm start
// (every record already priced) does not pay for parsing it.
/** @type {import('esbuild').Plugin} */
const pricesAsSeparateFile = {
  name: 'prices-as-separate-file',
  setup(build) {
    build.onResolve({ filter: /^@pydantic\/genai-prices$/ }, () => ({ path: './prices.js', external: true }));
  },
};

// SQLite (WebAssembly, for OpenCode, Goose and Crush) is loaded only where one of those agents has a folder: its
// JavaScript and its .wasm are copied beside the bundles and required at run time.
/** @type {import('esbuild').Plugin} */
const sqliteAsSeparateFile = {
  name: 'sqlite-as-separate-file',
  setup(build) {
    build.onResolve({ filter: /^sql\.js$/ }, () => ({ path: './sql-wasm.js', external: true }));
  },
};

// `import * as fs from 'node:fs'` becomes `__toESM(require("node:fs"))` in a CommonJS bundle: a fresh copy of the
// module's ~100 properties (each as a getter) for every file that imports it, ~6 ms of every start for the CLI's
// ~50 such imports. These builtins are instead seen as one ES module each, whose exports are the module's own
// properties, read once: esbuild then turns `fs.openSync` into a plain reference. Properties that are lazy getters
// (fs.promises, fs.ReadStream, ...) are not read at start-up: `promises` is forwarded on use; using any other one is
// a build error (see logOverride). The exports are the building Node's properties plus those the code probes for at
// run time (undefined where the running Node lacks them), so that a newer Node's features are still found.
const BUILTINS_AS_ESM = ['fs', 'path', 'os', 'zlib'];
const PROBED = { zlib: ['crc32', 'zstdDecompressSync'] };
/** @type {import('esbuild').Plugin} */
const builtinsAsEsm = {
  name: 'builtins-as-esm',
  setup(build) {
    const filter = new RegExp(`^node:(${BUILTINS_AS_ESM.join('|')})$`);
    build.onResolve({ filter }, (args) =>
      args.namespace === 'builtin-esm' ? { path: args.path, external: true } : { path: args.path, namespace: 'builtin-esm' },
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin-esm' }, (args) => {
      const module = require(args.path);
      const names = [...new Set([...Object.keys(module), ...(PROBED[args.path.slice('node:'.length)] ?? [])])];
      const isGetter = (name) => Object.getOwnPropertyDescriptor(module, name)?.get !== undefined;
      const plain = names.filter((name) => !isGetter(name) && /^[A-Za-z_$][\w$]*$/.test(name));
      const lines = [`const m = require(${JSON.stringify(args.path)});`, 'export default m;', `export const { ${plain.join(', ')} } = m;`];
      if (names.includes('promises') && isGetter('promises')) {
        lines.push('export const promises = new Proxy({}, { get: (_, name) => m.promises[name] });');
      }
      return { contents: lines.join('\n'), loader: 'js', resolveDir: __dirname };
    });
  },
};

/** @type {import('esbuild').BuildOptions} */
const nodeCommon = {
  plugins: [builtinsAsEsm, pricesAsSeparateFile, sqliteAsSeparateFile],
  logOverride: { 'import-is-undefined': 'error' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};

const builds = [
  // Extension host: `vscode` is provided at runtime.
  { ...nodeCommon, entryPoints: { extension: 'src/host/extension.ts' }, outdir: 'dist', external: ['vscode'] },
  // The engine runs in a worker thread, for the extension host and the CLI's live view alike.
  { ...nodeCommon, entryPoints: { engineWorker: 'src/core/engineWorker.ts' }, outdir: 'dist' },
  // The CLI, an executable with a shebang (which passes Node flags where this machine's env can: scripts/shebang.js).
  { ...nodeCommon, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: cliShebang() } },
  // The price table, required lazily by the three bundles above.
  { ...nodeCommon, plugins: [], entryPoints: { prices: require.resolve('@pydantic/genai-prices') }, outdir: 'dist' },
  // The breakdown webview: browser code.
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
  },
];

async function main() {
  // A build starts from an empty dist/, so that nothing a past build left there can ship.
  if (!watch) require('fs').rmSync('dist', { recursive: true, force: true });
  const contexts = await Promise.all(builds.map((options) => esbuild.context(options)));
  if (watch) {
    await Promise.all(contexts.map((context) => context.watch()));
    return;
  }
  await Promise.all(contexts.map((context) => context.rebuild()));
  await Promise.all(contexts.map((context) => context.dispose()));
  for (const file of ['sql-wasm.js', 'sql-wasm.wasm']) {
    require('fs').copyFileSync(require.resolve(`sql.js/dist/${file}`), `dist/${file}`);
  }
  // npm does not keep the executable bit on a built file; the CLI must be runnable as `agent-spend`.
  require('fs').chmodSync('dist/cli.js', 0o755);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
