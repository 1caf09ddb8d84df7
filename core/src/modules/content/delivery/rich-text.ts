/**
 * Rich text is a node tree (`{ type: 'doc', children: [...] }`, see service/fields.ts); machine-
 * readable outputs get plain text or Markdown made from it, never HTML. Text that looks like a tag
 * is neutralised on the way out as well, for trees written before validation refused them.
 */
type Node = {
  type?: unknown;
  text?: unknown;
  children?: unknown;
  level?: unknown;
  url?: unknown;
  ordered?: unknown;
};

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const childrenOf = (node: Node): unknown[] => (Array.isArray(node.children) ? node.children : []);
const TAG = /<\/?[a-zA-Z!][^>]*>/g;

/** Whether a value is a rich-text document rather than a plain value. */
export function isRichText(value: unknown): boolean {
  return isNode(value) && value.type === 'doc' && Array.isArray(value.children);
}

/** Plain text: blocks separated by blank lines, list items by newlines, tags removed. */
export function richTextToPlain(value: unknown): string {
  if (typeof value === 'string') return value.replace(TAG, '').trim();
  if (!isNode(value)) return '';
  const inline = (node: unknown): string => {
    if (!isNode(node)) return '';
    if (typeof node.text === 'string') return node.text.replace(TAG, '');
    return childrenOf(node).map(inline).join('');
  };
  const block = (node: unknown): string => {
    if (!isNode(node)) return '';
    if (node.type === 'list') return childrenOf(node).map(block).join('\n');
    if (node.type === 'list_item' || node.type === 'quote' || node.type === 'doc')
      return childrenOf(node)
        .map((c) => (isNode(c) && typeof c.text === 'string' ? inline(c) : block(c)))
        .join(node.type === 'list_item' ? ' ' : '\n\n');
    return inline(node);
  };
  return block(value)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Markdown with `<`, `>` and `&` escaped, so no renderer ever turns content into HTML. */
export function richTextToMarkdown(value: unknown): string {
  if (typeof value === 'string') return escapeMarkdownText(value);
  if (!isNode(value)) return '';
  const inline = (node: unknown): string => {
    if (!isNode(node)) return '';
    if (typeof node.text === 'string') {
      const text = escapeMarkdownText(node.text);
      const marks = Array.isArray((node as { marks?: unknown }).marks)
        ? (node as { marks: string[] }).marks
        : [];
      if (!text.trim()) return text;
      if (marks.includes('code')) return `\`${text.replace(/`/g, '')}\``;
      let out = text;
      if (marks.includes('bold')) out = `**${out}**`;
      if (marks.includes('italic')) out = `*${out}*`;
      if (marks.includes('strike')) out = `~~${out}~~`;
      return out;
    }
    const inner = childrenOf(node).map(inline).join('');
    if (node.type === 'link' && typeof node.url === 'string' && /^(https?:|mailto:|\/)/.test(node.url))
      return `[${inner}](${node.url.replace(/[()\s]/g, encodeURIComponent)})`;
    return inner;
  };
  const block = (node: unknown, indent = ''): string => {
    if (!isNode(node)) return '';
    switch (node.type) {
      case 'heading': {
        const level = Math.min(6, Math.max(1, Number(node.level) || 2));
        return `${'#'.repeat(level)} ${inline(node)}`;
      }
      case 'list':
        return childrenOf(node)
          .map((item, i) => `${indent}${node.ordered ? `${i + 1}.` : '-'} ${listItem(item, `${indent}  `)}`)
          .join('\n');
      case 'quote':
        return childrenOf(node)
          .map((c) => block(c))
          .join('\n\n')
          .split('\n')
          .map((line) => `> ${line}`)
          .join('\n');
      case 'code_block':
        return `\`\`\`\n${childrenOf(node)
          .map((c) => (isNode(c) && typeof c.text === 'string' ? c.text : ''))
          .join('')
          .replace(/```/g, "'''")}\n\`\`\``;
      case 'doc':
        return childrenOf(node)
          .map((c) => block(c))
          .filter(Boolean)
          .join('\n\n');
      default:
        return inline(node);
    }
  };
  const listItem = (item: unknown, indent: string): string =>
    isNode(item)
      ? childrenOf(item)
          .map((c) => (isNode(c) && c.type === 'list' ? `\n${block(c, indent)}` : block(c)))
          .join(' ')
          .replace(/ \n/g, '\n')
      : '';
  return block(value).trim();
}

/** Escapes what would let text become HTML in a Markdown renderer. */
export function escapeMarkdownText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Plain text for any field value: rich text flattened, strings as they are, the rest ignored. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value.replace(TAG, '').trim();
  if (typeof value === 'number') return String(value);
  if (isRichText(value)) return richTextToPlain(value);
  return '';
}
