// The agents Agent Spend reads, by id and name, without loading their adapters (the extension host lists them in
// quick picks; the adapters themselves run in the engine's worker). test/unit/source.test.ts checks it against the
// registry.

export const AGENTS: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'claude-code', label: 'Claude Code' },
  { id: 'codex', label: 'Codex CLI' },
  { id: 'gemini-cli', label: 'Gemini CLI' },
  { id: 'qwen-code', label: 'Qwen Code' },
  { id: 'cline', label: 'Cline' },
  { id: 'roo-code', label: 'Roo Code' },
  { id: 'kilo-code', label: 'Kilo Code' },
  { id: 'opencode', label: 'OpenCode' },
  { id: 'kilo-cli', label: 'Kilo CLI' },
  { id: 'aider', label: 'Aider' },
  { id: 'copilot-cli', label: 'Copilot CLI' },
  { id: 'amp', label: 'Amp' },
  { id: 'goose', label: 'Goose' },
  { id: 'crush', label: 'Crush' },
];
