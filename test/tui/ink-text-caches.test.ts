// ink's text caches are bounded: the cache itself, the hook's rewrite of the installed ink
// (an ink whose source changed fails here, not silently in a user's terminal), and a real
// worker thread that draws the built TUI and then lays out 20,000 distinct texts.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { INK_PATCHES, rewriteInkSource, syncLoadHook } from '../../src/tui/ink-text-caches-hook.js';
import { TEXT_CACHE_CHARS, TEXT_CACHE_ENTRIES, TextCache } from '../../src/tui/ink-text-caches.js';
import { REPO_ROOT } from '../support/fixtures.js';

const MiB = 1024 * 1024;
const INK_BUILD = path.join(fs.realpathSync(path.join(REPO_ROOT, 'node_modules/ink')), 'build');
const inkVersion = (JSON.parse(fs.readFileSync(path.join(INK_BUILD, '../package.json'), 'utf8')) as { version: string }).version;

describe('TextCache', () => {
  it('holds at most two generations of entries, however many distinct keys come', () => {
    const cache = new TextCache<number>(100, 1_000_000);
    for (let i = 0; i < 10_000; i++) cache.set(`text ${i}`, i);
    expect(cache.size).toBeLessThanOrEqual(200);
    expect(cache.get('text 9999')).toBe(9999);
    expect(cache.get('text 0')).toBeUndefined();
  });

  it('bounds the characters held too, and keeps no entry larger than a generation', () => {
    const cache = new TextCache<string>(1000, 10_000);
    for (let i = 0; i < 1000; i++) cache.set(`${i}`.padEnd(1000, '.'), 'x'.repeat(1000));
    expect(cache.chars).toBeLessThanOrEqual(20_000);
    const huge = 'y'.repeat(20_000);
    cache.set(huge, 'v');
    expect(cache.get(huge)).toBeUndefined();
  });

  it('a text still in use survives the turnovers (it moves back into the current generation)', () => {
    const cache = new TextCache<number>(10, 1_000_000);
    cache.set('on screen', 1);
    for (let i = 0; i < 100; i++) {
      cache.set(`passing ${i}`, i);
      expect(cache.get('on screen')).toBe(1);
    }
  });
});

describe('the hook rewrites the installed ink', () => {
  const cacheModule = 'file:///somewhere/ink-text-caches.js';

  for (const patch of INK_PATCHES) {
    it(`bounds the cache of ink's build${patch.file.slice('/ink/build'.length)}`, () => {
      const file = path.join(INK_BUILD, path.basename(patch.file));
      const url = pathToFileURL(file).href;
      const rewritten = rewriteInkSource(url, fs.readFileSync(file, 'utf8'), cacheModule);
      expect(
        rewritten,
        `ink ${inkVersion} changed ${file}: src/tui/ink-text-caches-hook.ts no longer finds the cache it bounds (update its edits)`,
      ).toBeDefined();
      expect(rewritten).toContain(`import { inkTextCache } from "${cacheModule}";`);
      expect(rewritten).toMatch(/const cache = inkTextCache\('(measureText|wrapText)'\);/);
      expect(rewritten).not.toMatch(/cache\[cacheKey\]/);
      // one line for one: ink's line numbers hold
      expect(rewritten!.split('\n').length).toBe(fs.readFileSync(file, 'utf8').split('\n').length);
    });
  }

  it('leaves a changed ink (the text it replaces missing or there twice) and every other module as they are', () => {
    const url = 'file:///x/node_modules/ink/build/wrap-text.js';
    expect(rewriteInkSource(url, 'const cache = new LRU(500);\nexport default wrapText;', cacheModule)).toBeUndefined();
    const twice = 'const cache = {};\nconst cache2 = {};\nconst cachedText = cache[cacheKey];\ncache[cacheKey] = wrappedText;\nconst cache = {};';
    expect(rewriteInkSource(url, twice, cacheModule)).toBeUndefined();
    expect(rewriteInkSource('file:///x/node_modules/other/build/measure-text.js', 'const cache = new Map();', cacheModule)).toBeUndefined();
    expect(rewriteInkSource('file:///x/node_modules/ink/build/measure-text.js', 'const cache = new Map();', cacheModule)).toBeDefined();
  });
});

describe('the synchronous hook (module.registerHooks, Node 22.15+)', () => {
  const cacheModule = 'file:///somewhere/ink-text-caches.js';
  const load = syncLoadHook(cacheModule);

  it("rewrites ink's files given as bytes, as the next hook gives them, and passes every other module through", () => {
    const file = path.join(INK_BUILD, 'wrap-text.js');
    const url = pathToFileURL(file).href;
    const bytes = fs.readFileSync(file);
    const seen: unknown[] = [];
    const rewritten = load(url, { conditions: [] }, (u, context) => {
      seen.push(u, context);
      return { format: 'module', source: bytes };
    });
    expect(seen).toEqual([url, { conditions: [] }]);
    expect(String(rewritten.source)).toContain("const cache = inkTextCache('wrapText');");
    const other = { format: 'module', source: bytes };
    expect(load('file:///x/node_modules/react/index.js', {}, () => other)).toBe(other);
    // ink as CommonJS (not what this ink ships): an import cannot be put into it
    const commonjs = { format: 'commonjs', source: bytes };
    expect(load(url, {}, () => commonjs)).toBe(commonjs);
  });
});

interface LoadResult {
  mode: string;
  registered?: boolean;
  texts: number;
  heapGrowth: number;
  caches?: Record<string, { size: number; chars: number }>;
}

/** test/support/ink-text-load.mjs in a child node: ink lays out `texts` distinct texts on a worker thread. */
async function inkTextLoad(mode: 'bounded' | 'plain', texts = 20_000): Promise<LoadResult> {
  const script = path.join(REPO_ROOT, 'test/support/ink-text-load.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', script, mode, String(texts)], { cwd: REPO_ROOT, timeout: 120_000 });
  return JSON.parse(stdout) as LoadResult;
}

describe('in a worker thread drawing the built TUI (dist/), ink lays out 20,000 distinct texts', () => {
  it('its caches stay within their bound and its heap barely grows; without the hook, it grows by MBs', { timeout: 180_000 }, async () => {
    const bounded = await inkTextLoad('bounded');
    expect(bounded.registered, 'the hook could not be registered from dist/tui/ink-text-caches.js (is dist built?)').toBe(true);
    expect(
      Object.keys(bounded.caches ?? {}).sort(),
      `ink ${inkVersion} loaded without its caches bounded: the hook did not apply to the installed ink`,
    ).toEqual(['measureText', 'wrapText']);
    for (const cache of Object.values(bounded.caches!)) {
      expect(cache.size).toBeLessThanOrEqual(2 * TEXT_CACHE_ENTRIES);
      expect(cache.chars).toBeLessThanOrEqual(2 * TEXT_CACHE_CHARS);
    }
    expect(bounded.texts).toBe(20_000);
    expect(bounded.heapGrowth).toBeLessThan(5 * MiB);
    // the same load with ink's own caches: the measurement sees the leak the hook removes
    const plain = await inkTextLoad('plain');
    expect(plain.caches).toBeUndefined();
    expect(plain.heapGrowth).toBeGreaterThan(8 * MiB);
  });
});
