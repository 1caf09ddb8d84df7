import { p } from '@mikro-orm/postgresql';

/** The columns most entities share, so that every table spells them the same way. */
export const idColumn = () =>
  p
    .uuid()
    .primary()
    .onCreate(() => crypto.randomUUID());

export const createdAtColumn = () => p.datetime().onCreate(() => new Date());

export const updatedAtColumn = () =>
  p
    .datetime()
    .onCreate(() => new Date())
    .onUpdate(() => new Date());
