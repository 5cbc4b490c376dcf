// Entry point VS Code loads in the extension host (extensionTestsPath): runs the mocha suites beside it.
const path = require('node:path');
const Mocha = require('mocha');

function run() {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60000, color: false });
  mocha.addFile(path.join(__dirname, 'extension.test.js'));
  mocha.addFile(path.join(__dirname, 'stop.test.js'));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      // The plain closing line CI reads, whatever the runner.
      console.log(`vscode: ${runner.stats.passes} passed, ${runner.stats.failures} failed`);
      if (failures > 0) reject(new Error(`${failures} test(s) failed`));
      else resolve();
    });
  });
}

module.exports = { run };
