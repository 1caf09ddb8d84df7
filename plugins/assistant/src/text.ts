// Deterministic reading of customer text: the decisions that must not depend on a model
// (handoff triggers, blocked topics, relevance) are made here, the same way every time.

const STOP_WORDS = new Set(
  `a an and are as at be but by can could did do does for from had has have how i if in into is it its
   me my no not of on or our please so than that the their them then there these they this to us was
   we were what when where which who why will with would you your hi hello thanks thank
   der die das ein eine und ist wie was wo wann ich mir mich mein meine sie es zu mit von für auf im in
   nicht bitte hallo danke kann können habe hat`.split(/\s+/),
);

/** The words of a text that carry meaning, lower-cased, each once. */
export function keywordsOf(text: string): string[] {
  const words = text.toLocaleLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [];
  return [...new Set(words.filter((w) => !STOP_WORDS.has(w)))];
}

/** The share of `question`'s keywords found in `passage` (0 … 1), matching word stems loosely. */
export function coverageOf(question: string[], passage: string): number {
  if (question.length === 0) return 0;
  const words = new Set(passage.toLocaleLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? []);
  const stems = new Set([...words].map(stemOf));
  const found = question.filter((w) => words.has(w) || stems.has(stemOf(w))).length;
  return found / question.length;
}

/** A crude suffix stem, the same for `take`, `takes` and `taken`: enough to compare words loosely. */
export function stemOf(word: string): string {
  return word.length > 3 ? word.replace(/(ing|ed|es|en|er|s|e)$/u, '') : word;
}

const HUMAN_REQUEST =
  /\b(human|real person|a person|an agent|someone real|representative|talk to (someone|somebody)|speak to (someone|somebody)|operator|mitarbeiter(in)?|mensch|menschen|berater(in)?|kundenservice anrufen)\b/iu;

/** The customer asks for a person. */
export function asksForHuman(text: string): boolean {
  return HUMAN_REQUEST.test(text);
}

const NEGATIVE = new Map<string, number>(
  Object.entries({
    angry: 2,
    furious: 3,
    terrible: 2,
    awful: 2,
    horrible: 2,
    worst: 3,
    useless: 2,
    unacceptable: 3,
    ridiculous: 2,
    scam: 3,
    fraud: 3,
    disappointed: 2,
    annoyed: 2,
    hate: 3,
    broken: 1,
    complaint: 2,
    sue: 3,
    lawyer: 2,
    never: 1,
    bad: 1,
    wütend: 3,
    schrecklich: 2,
    unverschämt: 3,
    enttäuscht: 2,
    betrug: 3,
    frechheit: 3,
    schlecht: 1,
    ärgerlich: 2,
  }),
);
const POSITIVE = new Map<string, number>(
  Object.entries({
    thanks: 1,
    thank: 1,
    great: 2,
    good: 1,
    love: 2,
    perfect: 2,
    excellent: 2,
    happy: 2,
    helpful: 2,
    danke: 1,
    super: 2,
    toll: 2,
    prima: 2,
  }),
);

/** A lexicon score in −1 … 1; shouting (!!!, CAPITALS) makes a negative message more negative. */
export function sentimentOf(text: string): number {
  const words = text.toLocaleLowerCase().match(/[\p{L}]{2,}/gu) ?? [];
  let score = 0;
  for (const w of words) score += (POSITIVE.get(w) ?? 0) - (NEGATIVE.get(w) ?? 0);
  if (score < 0 && (/!{2,}/.test(text) || /\b[A-Z]{4,}\b/.test(text))) score -= 1;
  return Math.max(-1, Math.min(1, score / 3));
}

/** The first of `topics` the text is about (every word of the topic appears), or null. */
export function topicIn(text: string, topics: readonly string[]): string | null {
  const words = new Set(text.toLocaleLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? []);
  const stems = new Set([...words].map(stemOf));
  for (const topic of topics) {
    const needed = topic.toLocaleLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [];
    if (needed.length > 0 && needed.every((w) => words.has(w) || stems.has(stemOf(w)))) return topic;
  }
  return null;
}

/** A rough intent label for routing, from the words of the message. */
export function intentOf(text: string): string | null {
  const t = text.toLocaleLowerCase();
  const rules: [string, RegExp][] = [
    ['refund', /\b(refund|money back|erstatt|geld zurück)/u],
    ['return', /\b(return|send (it )?back|rücksend|zurückschick)/u],
    ['shipping', /\b(ship|deliver|tracking|parcel|package|versand|lieferung|paket)/u],
    ['billing', /\b(invoice|bill|charge|payment|rechnung|zahlung)/u],
    ['account', /\b(password|login|log in|account|konto|passwort)/u],
    ['complaint', /\b(complain|complaint|beschwer)/u],
  ];
  return rules.find(([, re]) => re.test(t))?.[0] ?? null;
}

/**
 * Untrusted text (customer messages, retrieved passages) as it goes into a prompt: no delimiter
 * can be closed or opened from inside (every tag-like `<name …>` is removed, so a new prompt's
 * `<transcript>` or `<questions>` is as safe as `<sources>`), and control characters are dropped.
 */
export function quoteUntrusted(text: string, maxLength: number): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: dropping control characters is the point.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '')
      .replace(/<\/?\s*[a-z][\w-]*\b[^>]*>/giu, '[removed tag]')
      .replace(/<\|im_(start|end)\|>/g, '[removed token]')
      .slice(0, maxLength)
  );
}
