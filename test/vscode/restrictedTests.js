// node restrictedTests.js BASE_URL WORKSPACE_DIR SCREENSHOTS_DIR
// (the runner's user settings point agentSpend.claudeCode.configDir at another Claude folder holding $0.90)
// Agent Spend in Restricted Mode (a folder whose authors are not trusted), in the real workbench: the meter works from
// the agents' default log folders; a machine setting pointing elsewhere is ignored, and says so; stopping agents is
// not offered. Prints "restricted: N passed, N failed".
const assert = require('node:assert/strict');
const path = require('node:path');
const { launch } = require('./browser');

const [base, folder, shots] = process.argv.slice(2);
const results = [];
async function step(name, body) {
  const t = Date.now();
  try {
    await body();
    results.push(true);
    console.log(`ok - ${name} (${Date.now() - t} ms)`);
  } catch (error) {
    results.push(false);
    console.log(`not ok - ${name}\n${error.stack || error}`);
    throw error;
  }
}

(async () => {
  const { page, close } = await launch();
  const statusbar = page.locator('#workbench\\.parts\\.statusbar');
  try {
    await step('a folder opens in Restricted Mode and the meter still shows the spend', async () => {
      await page.goto(`${base}/?folder=${encodeURIComponent(path.resolve(folder))}`);
      await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
      await statusbar.locator('.statusbar-item', { hasText: 'Restricted Mode' }).waitFor({ timeout: 60000 });
      await statusbar.locator('.statusbar-item', { hasText: '$0.30 today' }).waitFor({ timeout: 60000 });
    });
    await step('a log folder set in the settings is ignored until the folder is trusted, and says so', async () => {
      // The other folder holds $0.90: the meter must not have read it.
      assert.equal(await statusbar.locator('.statusbar-item', { hasText: '$0.90' }).count(), 0);
      // The warning is a toast first, then an entry of the notification center: look in both, opening the center
      // once if the toast has gone.
      const wanted = 'is ignored until this workspace is trusted';
      const messages = () => page.locator('.notification-list-item-message').allTextContents();
      let seen = [];
      for (let i = 0; i < 60; i++) {
        seen = await messages();
        if (seen.some((text) => text.includes(wanted))) break;
        if (i === 4) {
          await page.keyboard.press('F1');
          const input = page.locator('.quick-input-widget input');
          await input.waitFor();
          await input.fill('>Notifications: Show Notifications');
          await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Notifications: Show Notifications' }).first().click();
        }
        await page.waitForTimeout(500);
      }
      assert.ok(seen.some((text) => text.includes(wanted)), `notifications shown: ${JSON.stringify(seen)}`);
      await page.screenshot({ path: path.join(shots, 'restricted-mode.png') });
      await page.keyboard.press('Escape');
    });
    await step('stopping agents is not offered in Restricted Mode', async () => {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor();
      await input.fill('>Agent Spend: ');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Show Token Breakdown' }).first().waitFor();
      const rows = await page.locator('.quick-input-list .monaco-list-row').allTextContents();
      assert.ok(!rows.some((r) => /Stop Agent|Install Claude Code Budget Hook/.test(r)), rows.join(' | '));
      await page.keyboard.press('Escape');
    });
  } catch {
    await page.screenshot({ path: path.join(shots, 'restricted-failure.png') }).catch(() => {});
  } finally {
    await close();
  }
  const passed = results.filter(Boolean).length;
  console.log(`restricted: ${passed} passed, ${results.length - passed} failed`);
  process.exit(passed === 3 ? 0 : 1);
})();
