// Every agent Agent Spend reads, in the order they are listed to users.

import { claudeCodeSource } from './claudeCode';
import { codexSource } from './codex';
import { geminiSource } from './gemini';
import { qwenSource } from './qwen';
import type { Source } from './source';

export const ALL_SOURCES: readonly Source[] = [claudeCodeSource, codexSource, geminiSource, qwenSource];

export function sourceById(agent: string): Source | undefined {
  return ALL_SOURCES.find((source) => source.agent === agent);
}
