// Every agent Agent Spend reads, in the order they are listed to users.

import { claudeCodeSource } from './claudeCode';
import { crushSource } from './crush';
import { gooseSource } from './goose';
import { kiloCliSource, opencodeSource } from './opencode';
import { codexSource } from './codex';
import { geminiSource } from './gemini';
import { qwenSource } from './qwen';
import type { Source } from './source';

export const ALL_SOURCES: readonly Source[] = [
  claudeCodeSource,
  codexSource,
  geminiSource,
  qwenSource,
  opencodeSource,
  kiloCliSource,
  gooseSource,
  crushSource,
];

export function sourceById(agent: string): Source | undefined {
  return ALL_SOURCES.find((source) => source.agent === agent);
}
