// The breakdown webview's entry point (its own browser bundle). The UI itself arrives with the extension issue;
// until then this bundle only announces itself to the host, so the build pipeline is exercised end to end.

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

const vscode = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
vscode?.postMessage({ type: 'ready' });
