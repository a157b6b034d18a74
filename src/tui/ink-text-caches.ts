// Bounds ink's two text caches. ink (6.8) keeps every distinct text it ever measured or wrapped
// in module-level caches that never evict (vadimdemedes/ink#986); a TUI whose rows change
// (seqs, times, rates) grows by tens of MB an hour. A module hook (./ink-text-caches-hook.js)
// rewrites those two ink files as they load so their caches are made here, bounded.

import * as nodeModule from 'node:module';
import { createRequire, register } from 'node:module';

/** Where the caches' sizes are found, for tests and diagnostics only. */
export const INK_TEXT_CACHES = Symbol.for('amqp-spy.inkTextCaches');

/** Entries per generation: two generations are kept, so at most twice this many. */
export const TEXT_CACHE_ENTRIES = 1000;
/** Characters (keys and string values) per generation: a few huge texts cannot hold much either. */
export const TEXT_CACHE_CHARS = 512 * 1024;

/**
 * A cache of two generations: entries go into the current one; when it is full it becomes the
 * previous one (the older one is dropped). A hit in the previous generation moves back into
 * the current one, so the texts on screen survive a turnover and are not all measured again.
 */
export class TextCache<V> {
  #current = new Map<string, V>();
  #previous = new Map<string, V>();
  #chars = 0;
  #previousChars = 0;

  constructor(
    readonly maxEntries = TEXT_CACHE_ENTRIES,
    readonly maxChars = TEXT_CACHE_CHARS,
  ) {}

  get(key: string): V | undefined {
    const hit = this.#current.get(key);
    if (hit !== undefined) return hit;
    const old = this.#previous.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, value: V): this {
    const cost = key.length + (typeof value === 'string' ? value.length : 0);
    // larger than a whole generation: measured again each time rather than kept
    if (cost > this.maxChars) return this;
    if (this.#current.size >= this.maxEntries || this.#chars + cost > this.maxChars) {
      this.#previous = this.#current;
      this.#previousChars = this.#chars;
      this.#current = new Map();
      this.#chars = 0;
    }
    this.#current.set(key, value);
    this.#chars += cost;
    return this;
  }

  /** entries held, both generations */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** characters held (keys and string values), both generations */
  get chars(): number {
    return this.#chars + this.#previousChars;
  }
}

type CacheRegistry = Record<string, TextCache<unknown>>;

/** The caches made so far in this thread, by name (`measureText`, `wrapText`). */
export function inkTextCaches(): Readonly<CacheRegistry> {
  return ((globalThis as Record<symbol, unknown>)[INK_TEXT_CACHES] as CacheRegistry | undefined) ?? {};
}

/** Called by ink's rewritten modules (see the hook) in place of their unbounded caches. */
export function inkTextCache(name: string): TextCache<unknown> {
  const global = globalThis as Record<symbol, unknown>;
  const registry = (global[INK_TEXT_CACHES] ??= {}) as CacheRegistry;
  const cache = new TextCache<unknown>();
  registry[name] = cache;
  return cache;
}

/**
 * ink's dependencies made of many modules (es-toolkit/compat: 415 of the ~580 modules the TUI
 * loads). Every module loaded after the hook is registered costs a round trip to the hooks
 * thread (ink took ~2x as long to load on a busy machine), so these are loaded before it.
 */
const INK_HEAVY_DEPENDENCIES = ['es-toolkit/compat'];

/** Whether `pkg` resolves from here to the copy ink itself uses (not one nested under ink). */
function sameCopyAsInk(pkg: string): boolean {
  try {
    const ours = createRequire(import.meta.url);
    const inks = createRequire(ours.resolve('ink'));
    return inks.resolve(`${pkg}/package.json`) === ours.resolve(`${pkg}/package.json`);
  } catch {
    return false;
  }
}

type SyncLoadHook = ReturnType<typeof import('./ink-text-caches-hook.js').syncLoadHook>;
/** Node 22.15+: in-thread synchronous hooks (module.register prints a deprecation warning from 25.9 on) */
const registerHooks = (nodeModule as unknown as { registerHooks?: (hooks: { load: SyncLoadHook }) => unknown }).registerHooks;

let registered: Promise<boolean> | undefined;

/**
 * Registers the hook in this thread (once; hooks are per thread), before ink is first imported.
 * False if it cannot be (run from the TypeScript sources): ink then works as it always did,
 * with its unbounded caches.
 */
export function boundInkTextCaches(): Promise<boolean> {
  registered ??= (async () => {
    // from the TypeScript sources (tests), ink would import the cache from a .ts file itself
    if (!import.meta.url.endsWith('.js')) return false;
    try {
      if (registerHooks !== undefined) {
        // in-thread: no round trip per module, nothing to load first
        const { syncLoadHook } = await import('./ink-text-caches-hook.js');
        registerHooks({ load: syncLoadHook(import.meta.url) });
        return true;
      }
      for (const dependency of INK_HEAVY_DEPENDENCIES) {
        if (!sameCopyAsInk(dependency.split('/')[0]!)) continue;
        // not found or failing: ink loads it through the hook, only slower
        await import(dependency).catch(() => undefined);
      }
      register('./ink-text-caches-hook.js', { parentURL: import.meta.url, data: { cacheModule: import.meta.url } });
      return true;
    } catch {
      return false;
    }
  })();
  return registered;
}
