// Polls `check` every 10 ms until it returns something truthy, or rejects naming `what`.
function until(check, what, ms = 30000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      let value;
      try {
        value = check();
      } catch {
        value = undefined;
      }
      if (value) {
        clearInterval(poll);
        resolve(value);
      } else if (Date.now() - started > ms) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

module.exports = { until };
