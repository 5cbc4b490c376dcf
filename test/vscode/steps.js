// Named steps for the UI scripts: each prints "ok - name (ms)" or "not ok - name" with the error, and is counted.
// A failing step throws, so the steps after it are skipped (they build on it); the script prints the tally.
function stepper() {
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
  const passed = () => results.filter(Boolean).length;
  const failed = () => results.length - passed();
  return { step, passed, failed };
}

module.exports = { stepper };
