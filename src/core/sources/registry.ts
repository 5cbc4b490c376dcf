// Every agent Agent Spend reads, in the order they are listed to users.

import { aiderSource } from './aider';
import { ampSource } from './amp';
import { claudeCodeSource } from './claudeCode';
import { clineSource, kiloCodeSource, rooCodeSource } from './cline';
import { codexSource } from './codex';
import { copilotCliSource } from './copilotCli';
import { crushSource } from './crush';
import { geminiSource } from './gemini';
import { gooseSource } from './goose';
import { kiloCliSource, opencodeSource } from './opencode';
import { qwenSource } from './qwen';
import type { Source } from './source';

export const ALL_SOURCES: readonly Source[] = [
  claudeCodeSource,
  codexSource,
  geminiSource,
  qwenSource,
  clineSource,
  rooCodeSource,
  kiloCodeSource,
  opencodeSource,
  kiloCliSource,
  aiderSource,
  copilotCliSource,
  ampSource,
  gooseSource,
  crushSource,
];
