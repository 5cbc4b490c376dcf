// "Agent Spend: Show Token Breakdown": the webview panel. Strict CSP with a fresh nonce, resources only from the
// extension's dist/ and media/, live snapshots from the engine, restored after a window reload by the serializer.

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { calendarWindow } from '../core/budget';
import { LocalCalendar } from '../core/localTime';
import type { ReportQuery } from '../core/report';
import { PERIODS, type HostMessage, type Period, type RunningAgentView, type StoppedView, type WebviewMessage } from '../shared/protocol';
import type { EngineService, Snapshot } from './engineService';
import { Disposable } from './lifecycle';

export class BreakdownPanel extends Disposable implements vscode.WebviewPanelSerializer {
  static readonly viewType = 'agentSpend.breakdown';
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private period: Period = 'month';

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly engine: EngineService,
    private readonly log: vscode.LogOutputChannel,
    private readonly weekStartsOn: () => number,
    /** The agents running in terminals and the sessions Agent Spend stopped: not the engine's, the host's. */
    private readonly agents: () => { running: RunningAgentView[]; stopped: StoppedView[] } = () => ({ running: [], stopped: [] }),
  ) {
    super();
    this.register(engine.onSnapshot((snapshot) => this.post(snapshot)));
  }

  /** Sends the latest snapshot again (running agents or stop markers changed). */
  refreshView(): void {
    if (this.engine.latest) this.post(this.engine.latest);
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    this.adopt(vscode.window.createWebviewPanel(BreakdownPanel.viewType, 'Agent Spend: Token Breakdown', vscode.ViewColumn.Active, this.options()));
  }

  /** Called by VS Code after a reload for a panel that was open: the webview restores its own UI state. */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.options = this.options();
    this.adopt(panel);
  }

  private options(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
  }

  private adopt(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.png');
    panel.webview.html = this.html(panel.webview);
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((message: WebviewMessage) => this.receive(message)),
      panel.onDidDispose(() => {
        for (const d of this.panelDisposables) d.dispose();
        this.panelDisposables = [];
        if (this.panel === panel) this.panel = undefined;
      }),
    ];
  }

  private receive(message: WebviewMessage): void {
    switch (message.type) {
      case 'ready':
      case 'setPeriod':
        // The webview says which period it shows (restored from its state after a reload); the engine's next
        // snapshot answers for that period.
        if (PERIODS.includes(message.period)) this.period = message.period;
        this.engine.setQuery(queryFor(this.period, Date.now(), this.weekStartsOn()));
        break;
      case 'refresh':
        this.engine.refresh();
        break;
      case 'setBudget':
        void vscode.commands.executeCommand('agentSpend.setBudget');
        break;
      case 'stopAgent':
        // The webview only names a pid it was shown; the command checks it is a running agent and asks first.
        if (Number.isInteger(message.pid) && Number.isFinite(message.startTicks)) {
          void vscode.commands.executeCommand('agentSpend.stopAgent', message.pid, message.startTicks);
        }
        break;
      default:
        this.log.warn(`breakdown: unknown message ${JSON.stringify(message).slice(0, 200)}`);
    }
  }

  private post(snapshot: Snapshot): void {
    if (!this.panel) return;
    const message: HostMessage = {
      type: 'snapshot',
      period: this.period,
      report: snapshot.report,
      meter: snapshot.meter ?? null,
      groups: snapshot.groups ?? null,
      ...this.agents(),
    };
    void this.panel.webview.postMessage(message);
  }

  /** The page: nothing inline but the nonce'd script tag; every log-derived string is set as text by the script. */
  html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'breakdown.css'));
    const chartStyle = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.css'));
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} data:`,
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${chartStyle}">
<link rel="stylesheet" href="${style}">
<title>Agent Spend: Token Breakdown</title>
</head>
<body>
<main id="app" aria-busy="true"><p class="muted">Reading your agents’ logs…</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  override dispose(): void {
    this.panel?.dispose();
    super.dispose();
  }
}

/** The report query for a period of the breakdown: local calendar days, from the period's first day on. */
export function queryFor(period: Period, now: number, weekStartsOn: number): ReportQuery {
  if (period === 'all') return {};
  const calendar = new LocalCalendar();
  const window = calendarWindow(period === 'today' ? 'day' : period, now, weekStartsOn);
  return { sinceDay: calendar.dayNumber(window.start) };
}
