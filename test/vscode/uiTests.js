// node uiTests.js BASE_URL WORKSPACE_DIR TRANSCRIPT SCREENSHOTS_DIR USER_SETTINGS_JSON
// Drives the real VS Code workbench in Debian's Chromium, with Agent Spend installed from its .vsix (the server
// runs without the smoke-test driver, which would hide notifications). Prints "N passed, N failed".
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { launch } = require('./browser');
const { stepper } = require('./steps');

const [base, folder, transcript, shots, userSettings] = process.argv.slice(2);
const { execFileSync } = require('node:child_process');
const REPO = path.resolve(__dirname, '..', '..');
fs.mkdirSync(shots, { recursive: true });
const started = Date.now();
const { step, passed, failed } = stepper();


function appendResponse(tag = 'ui_appended') {
  const line = JSON.parse(fs.readFileSync(transcript, 'utf8').trim().split('\n')[0]);
  line.message.id = `msg_${tag}`;
  line.requestId = `req_${tag}`;
  line.uuid = `uuid-${tag}`;
  line.timestamp = new Date().toISOString();
  fs.appendFileSync(transcript, `${JSON.stringify(line)}\n`);
}

(async () => {
  const { context, page, close } = await launch();
  page.on('pageerror', (error) => console.log(`pageerror: ${error.message}`));
  const statusbar = page.locator('#workbench\\.parts\\.statusbar');
  const meter = (text) => statusbar.locator('.statusbar-item', { hasText: text });
  const runCommand = async (title) => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
    await page.keyboard.press('Enter');
  };
  try {
    await step('the workbench loads with Agent Spend installed', async () => {
      await page.goto(`${base}/?folder=${encodeURIComponent(path.resolve(folder))}`);
      await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
    });
    await step("the status bar shows the fixture's spend", async () => {
      await meter('$0.30 today').waitFor({ timeout: 60000 });
      await meter('$0.30 today').hover();
      await page.locator('.monaco-hover', { hasText: 'Agent Spend' }).waitFor({ timeout: 10000 });
      await page.screenshot({ path: path.join(shots, 'status-bar.png') });
      await page.mouse.move(10, 10);
    });
    await step('appending a response to the log updates the status bar', async () => {
      const t = Date.now();
      appendResponse();
      await meter('$0.60 today').waitFor({ timeout: 20000 });
      console.log(`[measure] append to status bar in the UI: ${Date.now() - t} ms`);
    });
    const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await step('the command palette opens the breakdown, listing the fixture session', async () => {
      await runCommand('Agent Spend: Show Token Breakdown');
      await view.locator('#sessions-table tbody tr').first().waitFor({ timeout: 30000 });
      assert.equal(await view.locator('#sessions-table tbody tr').count(), 1);
      const row = await view.locator('#sessions-table tbody tr').first().textContent();
      assert.match(row, /claude-code/);
      assert.match(row, /\$0\.60/);
    });
    await step('a hostile project name renders as text, not markup', async () => {
      await view.locator('td', { hasText: '/work/<img src=x onerror=alert(1)>' }).first().waitFor({ timeout: 10000 });
      assert.equal(await view.locator('img').count(), 0, 'no <img> element made from a log string');
      await page.screenshot({ path: path.join(shots, 'breakdown.png') });
    });
    await step('the breakdown follows dark and high-contrast themes', async () => {
      for (const [theme, kind] of [['Dark Modern', 'vs-dark'], ['Dark High Contrast', 'hc-black'], ['Light High Contrast', 'hc-light']]) {
        await page.keyboard.press('F1');
        const input = page.locator('.quick-input-widget input');
        await input.fill('>Preferences: Color Theme');
        // Click the command itself: the first row may be its marketplace cousin, which needs the network.
        await page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Color Theme/ }).first().click();
        await input.fill(theme);
        await page.locator('.quick-input-list .monaco-list-row', { hasText: new RegExp(`^${theme}`) }).first().click();
        await page.waitForFunction((wanted) => document.querySelector('.monaco-workbench')?.classList.contains(wanted), kind, { timeout: 15000 });
        await page.waitForTimeout(500);
        // Text and background come from the theme's variables and must differ.
        const colors = await view.locator('body').evaluate((body) => {
          const style = getComputedStyle(body);
          return { text: style.color, background: style.backgroundColor };
        });
        assert.notEqual(colors.text, colors.background, `${theme}: ${JSON.stringify(colors)}`);
        await view.locator('#sessions-table tbody tr').first().waitFor();
        await page.screenshot({ path: path.join(shots, `breakdown-${theme.toLowerCase().replace(/ /g, '-')}.png`) });
      }
    });
    await step('a second window shows the same totals; both follow an append; the shared state stays whole', async () => {
      // Another folder, another window, another extension host: both engines share the extension's global storage.
      const other = `${path.resolve(folder)}-second`;
      fs.mkdirSync(other, { recursive: true });
      const second = await context.newPage();
      try {
        await second.goto(`${base}/?folder=${encodeURIComponent(other)}`);
        const secondMeter = (text) => second.locator('#workbench\\.parts\\.statusbar .statusbar-item', { hasText: text });
        await secondMeter('$0.60 today').waitFor({ timeout: 60000 });
        appendResponse('ui_two_windows');
        await meter('$0.90 today').waitFor({ timeout: 20000 });
        await secondMeter('$0.90 today').waitFor({ timeout: 20000 });
      } finally {
        await second.close();
      }
      // Both windows saved into one state file: the CLI reads it as it is (a damaged file would be reported and
      // moved aside), and with no logs at all it still holds the three requests.
      const stateDir = path.join(path.dirname(userSettings), 'globalStorage', 'agent-spend.agent-spend', 'state');
      const copy = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'agent-spend-ui-state-'));
      await new Promise((resolve) => setTimeout(resolve, 2500)); // the engines batch their saves (2 s)
      fs.copyFileSync(path.join(stateDir, 'ledger.bin'), path.join(copy, 'ledger.bin'));
      const out = execFileSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), 'report', '--json', '--state-dir', copy, '--agent', 'claude-code'], {
        env: { PATH: process.env.PATH, HOME: copy, CLAUDE_CONFIG_DIR: path.join(copy, 'no-logs') },
        cwd: copy,
        encoding: 'utf8',
      });
      fs.rmSync(copy, { recursive: true, force: true });
      const report = JSON.parse(out);
      assert.deepEqual(report.warnings, []);
      assert.equal(report.totals.requests, 3);
    });
  } catch {
    await page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => {});
  } finally {
    await close();
  }
  console.log(`[ui-tests] done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`ui: ${passed()} passed, ${failed()} failed`);
  process.exit(passed() === 7 ? 0 : 1);
})();
