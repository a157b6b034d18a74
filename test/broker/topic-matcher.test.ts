import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitTopicWords, TopicMatcher } from '../../src/broker/topic-matcher.js';

/** Independent reference: a direct recursive reading of the AMQP topic rules. */
function referenceMatch(pattern: string, key: string): boolean {
  const p = pattern === '' ? [] : pattern.split('.');
  const k = key === '' ? [] : key.split('.');
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    const w = p[i];
    if (w === '#') return go(i + 1, j) || (j < k.length && go(i, j + 1));
    if (j === k.length) return false;
    return (w === '*' || w === k[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

function matches(pattern: string, key: string): boolean {
  const m = new TopicMatcher<string>();
  m.add(pattern, pattern);
  return m.match(key).has(pattern);
}

describe('splitTopicWords', () => {
  it('splits like RabbitMQ: empty key has no words, every dot separates two words', () => {
    expect(splitTopicWords('')).toEqual([]);
    expect(splitTopicWords('a')).toEqual(['a']);
    expect(splitTopicWords('a..b')).toEqual(['a', '', 'b']);
    expect(splitTopicWords('.')).toEqual(['', '']);
    expect(splitTopicWords('a.')).toEqual(['a', '']);
  });
});

describe('TopicMatcher tables', () => {
  const table: Array<[pattern: string, key: string, expected: boolean]> = [
    // RabbitMQ tutorial 5
    ['*.orange.*', 'quick.orange.rabbit', true],
    ['*.*.rabbit', 'quick.orange.rabbit', true],
    ['*.orange.*', 'lazy.orange.elephant', true],
    ['lazy.#', 'lazy.orange.elephant', true],
    ['*.orange.*', 'quick.orange.fox', true],
    ['*.*.rabbit', 'quick.orange.fox', false],
    ['lazy.#', 'lazy.brown.fox', true],
    ['*.*.rabbit', 'lazy.pink.rabbit', true],
    ['lazy.#', 'lazy.pink.rabbit', true],
    ['*.orange.*', 'quick.brown.fox', false],
    ['*.orange.*', 'orange', false],
    ['*.orange.*', 'quick.orange.male.rabbit', false],
    ['lazy.#', 'lazy.orange.male.rabbit', true],
    ['lazy.#', 'lazy', true],
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['#', '.', true],
    ['*', '', false],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['*', '.', false],
    ['', '', true],
    ['', 'a', false],
    ['#.#', '', true],
    ['#.#', 'a.b', true],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.b.c', false],
    ['a.#.b', 'ab', false],
    ['a..b', 'a..b', true],
    ['a.*.b', 'a..b', true],
    ['a.*.b', 'a.b', false],
    ['*.', 'x.', true],
    ['*.', 'x', false],
    ['.*', '.x', true],
    ['#.', 'a.b.', true],
    ['#.', '', false],
    ['*.#', '', false],
    ['*.#', 'a', true],
    ['#.*', 'a.b', true],
    ['a.#.#.b', 'a.b', true],
    ['#.a.#', 'x.a', true],
    ['#.a.#', 'x.b', false],
    ['a.*.#', 'a', false],
    ['a.*.#', 'a.b', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.b.c', false],
  ];
  it.each(table)('%j vs %j → %s', (pattern, key, expected) => {
    expect(matches(pattern, key)).toBe(expected);
    // the reference agrees with the table, so the table itself is checked too
    expect(referenceMatch(pattern, key)).toBe(expected);
  });
});

const keyWord = fc.constantFrom('a', 'b', 'c', '');
const patternWord = fc.constantFrom('a', 'b', '', '*', '#', '*', '#');
const key = fc.array(keyWord, { maxLength: 6 }).map((w) => w.join('.'));
const pattern = fc.array(patternWord, { maxLength: 6 }).map((w) => w.join('.'));

describe('TopicMatcher against the reference matcher', () => {
  it('agrees for single patterns', () => {
    fc.assert(
      fc.property(pattern, key, (p, k) => {
        expect(matches(p, k)).toBe(referenceMatch(p, k));
      }),
      { numRuns: 3000 },
    );
  });

  it('returns exactly the matching bindings of many patterns, through adds and removes', () => {
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 40 }),
        fc.array(key, { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (patterns, keys, removals) => {
          const m = new TopicMatcher<number>();
          const live = new Map<number, string>();
          patterns.forEach((p, i) => {
            expect(m.add(p, i)).toBe(true);
            live.set(i, p);
          });
          for (const r of removals) {
            const i = r % patterns.length;
            expect(m.remove(patterns[i]!, i)).toBe(live.delete(i));
          }
          expect(m.size).toBe(live.size);
          for (const k of keys) {
            const expected = [...live]
              .filter(([, p]) => referenceMatch(p, k))
              .map(([i]) => i)
              .sort((a, b) => a - b);
            expect([...m.match(k)].sort((a, b) => a - b)).toEqual(expected);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('TopicMatcher bookkeeping', () => {
  it('adds a pair once and prunes on remove', () => {
    const m = new TopicMatcher<string>();
    expect(m.add('a.*', 'x')).toBe(true);
    expect(m.add('a.*', 'x')).toBe(false);
    expect(m.add('a.*', 'y')).toBe(true);
    expect(m.size).toBe(2);
    expect(m.remove('a.*', 'z')).toBe(false);
    expect(m.remove('b.*', 'x')).toBe(false);
    expect(m.remove('a.*', 'x')).toBe(true);
    expect([...m.match('a.b')]).toEqual(['y']);
    expect(m.remove('a.*', 'y')).toBe(true);
    expect(m.size).toBe(0);
    expect(m.match('a.b').size).toBe(0);
  });

  it('stays polynomial on stacked # patterns with long keys', () => {
    const m = new TopicMatcher<string>();
    const p = Array.from({ length: 12 }, () => '#').join('.a.');
    m.add(p, 'p');
    const longKey = Array.from({ length: 60 }, () => 'a').join('.');
    // 12 `#` over 60 words would be ~60^12 paths without the memo; this returns at once
    expect(m.match(longKey).has('p')).toBe(referenceMatchMemo(p, longKey));
    expect(m.match(Array.from({ length: 60 }, () => 'b').join('.')).size).toBe(0);
  });
});

/** A memoised reference for long inputs. */
function referenceMatchMemo(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const k = key.split('.');
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const id = i * 1000 + j;
    const hit = memo.get(id);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === p.length) r = j === k.length;
    else if (p[i] === '#') r = go(i + 1, j) || (j < k.length && go(i, j + 1));
    else r = j < k.length && (p[i] === '*' || p[i] === k[j]) && go(i + 1, j + 1);
    memo.set(id, r);
    return r;
  };
  return go(0, 0);
}
