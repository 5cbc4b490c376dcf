// node extHostTests.js BASE_URL EXTENSION_DIR TESTS_PATH WORKSPACE_DIR
// Runs the mocha suite at TESTS_PATH inside the real Node extension host of a VS Code server started with
// --enable-smoke-test-driver, as VS Code's own browser integration tests do: the development and test paths go in
// the workbench URL's `payload`, and the extension host's exit code comes back through window.codeAutomationExit.
const path = require('node:path');
const util = require('node:util');
const { launch } = require('./browser');

const [base, extensionDir, testsPath, folder] = process.argv.slice(2);
const host = new URL(base).host;
const remote = (p) => `vscode-remote://${host}${path.resolve(p)}`;
const payload = JSON.stringify([
  ['extensionDevelopmentPath', remote(extensionDir)],
  ['extensionTestsPath', remote(testsPath)],
]);
const url = `${base}/?folder=${encodeURIComponent(path.resolve(folder))}&payload=${encodeURIComponent(payload)}`;

(async () => {
  const started = Date.now();
  const { page, close } = await launch();
  let exited;
  const exit = new Promise((resolve) => (exited = resolve));
  await page.exposeFunction('codeAutomationExit', (code) => exited(code));
  await page.exposeFunction('codeAutomationLog', (_type, args) => {
    const line = util.format(...args);
    // Offline noise: marketplace and telemetry look-ups, the chat agent host.
    if (!/ENOTFOUND|^\[(AgentHost|ChatModelSelection|AccountPolicyGate)\]/.test(line)) console.log(line);
  });
  await page.goto(url);
  const limit = Number(process.env.EXT_TESTS_TIMEOUT_MS || 300000);
  const code = await Promise.race([exit, new Promise((resolve) => setTimeout(() => resolve('timeout'), limit))]);
  await close();
  console.log(`[vscode-tests] extension host exited with ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(code === 0 ? 0 : 1);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
