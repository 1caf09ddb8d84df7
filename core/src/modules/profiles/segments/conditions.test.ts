import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../../kernel/errors.ts';
import { compare } from './comparators.ts';
import { findCycle, type OperatorShape, referencesOf, validateCondition } from './conditions.ts';
import { builtInSegmentOperators, operatorRegistry } from './operators.ts';

const operators = operatorRegistry(builtInSegmentOperators) as ReadonlyMap<string, OperatorShape>;

function fails(raw: unknown, field: string, message: RegExp, refs = {}) {
  assert.throws(
    () => validateCondition(raw, operators, refs),
    (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.equal(e.field, field);
      assert.match(e.message, message);
      assert.ok(e.message.startsWith(field), `"${e.message}" starts with its path`);
      return true;
    },
  );
}

const buyers = { op: 'event_count', args: { event: 'Order Completed', count: 2, withinDays: 30 } };

test('a valid tree comes back with defaults applied', () => {
  const condition = validateCondition(
    { all: [buyers, { not: { op: 'consent', args: { purpose: 'marketing_email' } } }] },
    operators,
  );
  assert.deepEqual(condition, {
    all: [
      { op: 'event_count', args: { event: 'Order Completed', comparator: 'gte', count: 2, withinDays: 30 } },
      { not: { op: 'consent', args: { purpose: 'marketing_email', state: 'granted' } } },
    ],
  });
});

test('errors name the path of what is wrong', () => {
  fails(
    { all: [buyers, buyers, { op: 'event_count', args: { event: 'x', count: 1, withinDays: 0 } }] },
    'condition.all[2].args.withinDays',
    /an integer between 1 and 3650/,
  );
  fails({ any: [buyers, { op: 'nope', args: {} }] }, 'condition.any[1].op', /unknown operator "nope"/);
  fails({ all: [] }, 'condition.all', /at least one/);
  fails({ all: [buyers], any: [buyers] }, 'condition', /only "all"/);
  fails(
    { not: { op: 'trait', args: { trait: 'plan', comparator: 'gt' } } },
    'condition.not.args.value',
    /needs a value/,
  );
  fails(
    { op: 'trait', args: { trait: 'plan', comparator: 'exists', value: 1 } },
    'condition.args.value',
    /no value/,
  );
  fails({ op: 'trait', args: { trait: 'plan', colour: 'red' } }, 'condition.args.colour', /not an argument/);
  fails(
    { op: 'consent', args: { purpose: 'telepathy' } },
    'condition.args.purpose',
    /one of marketing_email/,
  );
  fails(
    { op: 'event_count', args: { event: 'x', count: 1.5, withinDays: 3 } },
    'condition.args.count',
    /integer/,
  );
  fails({ op: 'event_count', args: { count: 1, withinDays: 3 } }, 'condition.args.event', /is required/);
  fails('everyone', 'condition', /must be an object/);
  fails(
    { op: 'segment', args: { segment: 'ghosts' } },
    'condition.args.segment',
    /no segment has the key "ghosts"/,
    {
      segmentKeys: new Set(['vip']),
    },
  );
  fails(
    { op: 'computed_trait', args: { trait: 'ltv', comparator: 'gt', value: 1 } },
    'condition.args.trait',
    /no computed trait/,
    {
      computedTraitKeys: new Set(),
    },
  );
  let deep: unknown = buyers;
  for (let i = 0; i < 9; i++) deep = { not: deep };
  assert.throws(() => validateCondition(deep, operators), /nest at most 8 deep/);
});

test('segment references are found and cycles named with their chain', () => {
  const condition = validateCondition(
    { all: [buyers, { not: { op: 'segment', args: { segment: 'b' } } }] },
    operators,
  );
  const refs = referencesOf(condition, operators, 'segment');
  assert.deepEqual(refs, [{ key: 'b', path: 'condition.all[1].not.args.segment' }]);
  const graph: Record<string, string[]> = { b: ['c'], c: ['a'] };
  assert.deepEqual(
    findCycle('a', refs, (k) => graph[k] ?? []),
    { chain: ['a', 'b', 'c', 'a'], path: 'condition.all[1].not.args.segment' },
  );
  assert.equal(
    findCycle('a', refs, (k) => (k === 'b' ? ['c'] : [])),
    null,
  );
});

test('comparisons: JSON equality, typed order, contains, missing values', () => {
  assert.ok(compare({ a: 1, b: [2] }, 'equals', { b: [2], a: 1 }));
  assert.ok(compare(undefined, 'not_equals', 'x'), 'a missing value is not equal');
  assert.ok(!compare(undefined, 'equals', 'x'));
  assert.ok(compare(10, 'gt', 9));
  assert.ok(!compare('10', 'gt', 9), 'a string never compares with a number');
  assert.ok(compare('2026-02-01', 'gte', '2026-01-31'), 'ISO dates compare as strings');
  assert.ok(compare('Zürich Hauptbahnhof', 'contains', 'zürich'));
  assert.ok(compare(['a', 'b'], 'contains', 'b'));
  assert.ok(compare(0, 'exists', undefined));
  assert.ok(compare(null, 'not_exists', undefined));
});
