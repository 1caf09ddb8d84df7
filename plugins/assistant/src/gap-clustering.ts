// How unanswered questions are compared and named: pure functions, the same result every time
// for the same questions, so a gap never changes because of when the clustering ran.
import type { GapMethod } from './entities.ts';
import { keywordsOf, stemOf } from './text.ts';

/** What clustering knows of one question. */
export interface QuestionShape {
  terms: string[];
  embedding: number[] | null;
  embeddingModel: string | null;
}

export interface GapThresholds {
  keywords: number;
  embeddings: number;
}

/** The term of a keyword: its stem with a doubled final consonant undone, so `wrapping` meets `wrap`. */
function termOf(keyword: string): string {
  return stemOf(keyword).replace(/([b-df-hj-np-tv-z])\1$/u, '$1');
}

/** The question's keywords as terms, each once. */
export function termsOf(question: string): string[] {
  return [...new Set(keywordsOf(question).map(termOf))];
}

/** Shared terms over all terms (Jaccard): 1 for the same words, 0 for none in common. */
export function keywordSimilarity(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  const set = new Set(a);
  const shared = b.filter((t) => set.has(t)).length;
  return shared / (set.size + b.length - shared);
}

export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa && bb ? dot / Math.sqrt(aa * bb) : 0;
}

/**
 * How well a question fits a gap: its average similarity to the gap's (recent) questions, over
 * the method's threshold, so that 1 or more means it joins. Average rather than best match, so a
 * gap cannot drift from topic to topic one similar question at a time. Embeddings are compared
 * only when the question and every one of the gap's questions have one from the same model.
 */
export function fitOf(
  question: QuestionShape,
  members: readonly QuestionShape[],
  thresholds: GapThresholds,
): { fit: number; method: GapMethod } {
  if (members.length === 0) return { fit: 0, method: 'keywords' };
  const embedded =
    question.embedding !== null &&
    members.every((m) => m.embedding !== null && m.embeddingModel === question.embeddingModel);
  if (embedded) {
    const total = members.reduce(
      (sum, m) => sum + cosineSimilarity(question.embedding as number[], m.embedding as number[]),
      0,
    );
    return { fit: total / members.length / thresholds.embeddings, method: 'embeddings' };
  }
  const total = members.reduce((sum, m) => sum + keywordSimilarity(question.terms, m.terms), 0);
  return { fit: total / members.length / thresholds.keywords, method: 'keywords' };
}

const LABEL_TERMS = 4;

/**
 * A gap's label: the keywords most of its questions share (each question counts a word once),
 * most frequent first, as customers wrote them: "gift · wrapping".
 */
export function labelOf(questions: readonly string[]): string {
  const counts = new Map<string, { questions: number; order: number; forms: Map<string, number> }>();
  for (const question of questions) {
    const seen = new Set<string>();
    for (const keyword of keywordsOf(question)) {
      const term = termOf(keyword);
      const entry = counts.get(term) ?? { questions: 0, order: counts.size, forms: new Map() };
      counts.set(term, entry);
      entry.forms.set(keyword, (entry.forms.get(keyword) ?? 0) + 1);
      if (seen.has(term)) continue;
      seen.add(term);
      entry.questions += 1;
    }
  }
  const ranked = [...counts.values()].sort((a, b) => b.questions - a.questions || a.order - b.order);
  const half = Math.ceil(questions.length / 2);
  const chosen = ranked.filter((t, i) => i === 0 || t.questions >= half).slice(0, LABEL_TERMS);
  const label = chosen
    .map((t) => [...t.forms.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '')
    .join(' · ');
  return label.slice(0, 200);
}

/** The question most like the others (highest total keyword similarity): what a gap is about. */
export function typicalQuestion(questions: readonly string[]): string | null {
  const terms = questions.map(termsOf);
  let best: string | null = null;
  let bestScore = -1;
  for (const [i, t] of terms.entries()) {
    const score = terms.reduce((sum, other, j) => sum + (i === j ? 0 : keywordSimilarity(t, other)), 0);
    if (score > bestScore) {
      best = questions[i] ?? null;
      bestScore = score;
    }
  }
  return best;
}
