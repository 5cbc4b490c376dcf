#!/usr/bin/env bash
# A stand-in "VS Code executable" for @vscode/test-electron where no desktop VS Code can be downloaded: checks the
# arguments runTests() passes and runs the same extension-host suite in the VS Code server instead.
HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
for arg in "$@"; do
  case "$arg" in
    --extensionDevelopmentPath=*) development=${arg#*=} ;;
    --extensionTestsPath=*) tests=${arg#*=} ;;
  esac
done
if [ -z "${development:-}" ] || [ -z "${tests:-}" ]; then
  echo "codeShim: expected --extensionDevelopmentPath= and --extensionTestsPath=" >&2
  exit 2
fi
[ "$(cd "$development" && pwd)" = "$(cd "$HERE/../.." && pwd)" ] || { echo "codeShim: runs only this extension's suite" >&2; exit 2; }
exec "$HERE/runExtHostTests.sh"
