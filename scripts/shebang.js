// The CLI's first line, chosen by the build for the machine it runs on.
//
// Node starts four V8 helper threads whatever the machine (--v8-pool-size=4), and V8 runs up to four TurboFan
// compile jobs on them at once. On a two-core machine those jobs take the core of the thread that scans the logs: a
// cold report of the 1 GB benchmark corpus was 717 -> 662 ms with --v8-pool-size=1 (medians of 9 alternating runs),
// with the same CPU time spent (perf stat: 931 ms either way) but a third of the context switches. --v8-pool-size=0
// asks Node to size the pool to the machine (one thread per core beyond the first).
//
// A shebang passes flags only through `env -S` (GNU coreutils 8.30+, macOS, FreeBSD; npm's Windows shims read it
// too). BusyBox's env (Alpine) and OpenBSD's do not have -S and would refuse to start the CLI, so the build asks the
// machine's env first and keeps the plain line where -S is missing.

const { spawnSync } = require('node:child_process');

const NODE_FLAGS = '--v8-pool-size=0';
const PLAIN = '#!/usr/bin/env node';
const WITH_FLAGS = `#!/usr/bin/env -S node ${NODE_FLAGS}`;

/**
 * Whether `/usr/bin/env` runs the line `WITH_FLAGS` would give it. The kernel passes everything after the
 * interpreter as one argument, so that is what is tried here (with `-e 0` in place of the script).
 */
function envSplitsArguments(env = '/usr/bin/env') {
  const run = spawnSync(env, [`-S node ${NODE_FLAGS} -e 0`], { stdio: 'ignore', timeout: 10_000 });
  return run.status === 0;
}

/** The shebang for the CLI bundle: with Node flags where this machine's env can pass them. */
function cliShebang({ platform = process.platform, splits = envSplitsArguments } = {}) {
  // Windows has no shebangs: npm's shims parse the line themselves, `env -S` included.
  if (platform === 'win32') return WITH_FLAGS;
  return splits() ? WITH_FLAGS : PLAIN;
}

module.exports = { cliShebang, envSplitsArguments, NODE_FLAGS, PLAIN, WITH_FLAGS };
