/**
 * The real Ollama the tests use (deploy/local/ollama.sh prints OLLAMA_URL and OLLAMA_MODEL;
 * deploy/local/test.sh exports them). Without them, LLM tests are skipped and say why — except
 * on CI, where a missing Ollama is a failure, not a silent skip.
 */
export function ollamaForTests(): { url: string; model: string } | null {
  const url = process.env.OLLAMA_URL;
  const model = process.env.OLLAMA_MODEL;
  if (url && model) return { url, model };
  if (process.env.CI === 'true')
    throw new Error(
      'CI must run the LLM tests against a real Ollama: OLLAMA_URL and OLLAMA_MODEL are not set',
    );
  return null;
}
