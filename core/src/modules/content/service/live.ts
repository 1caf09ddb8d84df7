/**
 * The one rule for an entry readers see (GraphQL reads, machine-readable output, the knowledge
 * base, search): a published version, not archived, not past its unpublish time, and an entry
 * type, never a block type. `e` is `content_entry`, `t` its `content_type`; `now` is an SQL
 * expression, `now()` or a bound parameter such as `$2`.
 */
export function liveEntry(now = 'now()'): string {
  return `e.published_version is not null and e.status <> 'archived'
    and (e.unpublish_at is null or e.unpublish_at > ${now}) and not t.is_block`;
}
