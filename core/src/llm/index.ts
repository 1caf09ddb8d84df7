import type { Settings } from '../kernel/config.ts';
import { OllamaProvider } from './ollama.ts';
import type { LlmProvider } from './provider.ts';

export { OllamaProvider, type OllamaProviderOptions } from './ollama.ts';
export * from './provider.ts';
export * from './tools.ts';

/** The provider the settings ask for, or null without OLLAMA_URL (then no module may call an LLM). */
export function createLlmProvider(settings: Settings): LlmProvider | null {
  if (!settings.OLLAMA_URL) return null;
  return new OllamaProvider({
    url: settings.OLLAMA_URL,
    model: settings.OLLAMA_MODEL,
    embedModel: settings.OLLAMA_EMBED_MODEL ?? null,
    timeoutMs: settings.LLM_TIMEOUT_MS,
  });
}
