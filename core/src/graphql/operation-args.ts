import type { ObjectRef } from '@pothos/core';
import { type ArgDef, type ArgDefs, argTypes } from '../modules/profiles/segments/conditions.ts';
import type { AtriumBuilder, AtriumSchemaTypes } from './builder.ts';
import { enumValues } from './helpers.ts';

type Types = PothosSchemaTypes.ExtendDefaultTypes<AtriumSchemaTypes>;
export type NamedArgDef = ArgDef & { name: string };

const refs = new WeakMap<AtriumBuilder, ObjectRef<Types, NamedArgDef>>();

/**
 * `OperatorArg`: one argument of a user-configured operation (segment operator, computed-trait
 * kind, channel send) as an admin UI draws its form field. One type per builder, shared by every
 * module that lists `{ code, args }` operations.
 */
export function operationArgRef(builder: AtriumBuilder): ObjectRef<Types, NamedArgDef> {
  const known = refs.get(builder);
  if (known) return known;
  const ArgTypeEnum = builder.enumType('OperatorArgType', { values: enumValues(argTypes) });
  const ref = builder.objectRef<NamedArgDef>('OperatorArg').implement({
    description:
      'One argument of an operation (segment operator, computed-trait kind, channel send): what a form field needs',
    fields: (t) => ({
      name: t.exposeString('name'),
      type: t.field({ type: ArgTypeEnum, resolve: (a) => a.type }),
      label: t.exposeString('label'),
      description: t.string({ nullable: true, resolve: (a) => a.description ?? null }),
      required: t.boolean({ resolve: (a) => a.required !== false && a.default === undefined }),
      default: t.field({ type: 'JSON', nullable: true, resolve: (a) => a.default ?? null }),
      options: t.stringList({ nullable: true, resolve: (a) => (a.options ? [...a.options] : null) }),
      min: t.float({ nullable: true, resolve: (a) => a.min ?? null }),
      max: t.float({ nullable: true, resolve: (a) => a.max ?? null }),
      ui: t.string({
        nullable: true,
        description: 'A hint such as event-name or trait-key',
        resolve: (a) => a.ui ?? null,
      }),
    }),
  });
  refs.set(builder, ref);
  return ref;
}

/** An operation's `args` as the list `OperatorArg` fields resolve. */
export function namedArgs(args: ArgDefs): NamedArgDef[] {
  return Object.entries(args).map(([name, def]) => ({ name, ...def }));
}
