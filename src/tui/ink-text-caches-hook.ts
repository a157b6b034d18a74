// The module hook registered by ./ink-text-caches.ts (on Node's hooks thread with
// module.register, or in-thread with module.registerHooks where Node has it). It rewrites two
// of ink's files as they load, so that their caches come from `inkTextCache()`, which bounds
// them; every other module is left to the next hook as is.
// When ink's source no longer holds the exact text replaced (another ink), the file is left
// as it is: ink works, unbounded, and test/tui/ink-text-caches.test.ts fails.

import type { InitializeHook, LoadHook } from 'node:module';

export interface InkTextCachesHookData {
  /** URL of the module exporting `inkTextCache` (ink-text-caches.js) */
  readonly cacheModule: string;
}

interface InkPatch {
  /** the end of the file's URL */
  readonly file: string;
  /** [text, replacement] pairs: each text must occur exactly once, or nothing is changed */
  edits(cacheModule: string): readonly (readonly [string, string])[];
}

/** ink 6.8's two unbounded caches: a Map in measure-text, a plain object in wrap-text. */
export const INK_PATCHES: readonly InkPatch[] = [
  {
    file: '/ink/build/measure-text.js',
    edits: (cacheModule) => [['const cache = new Map();', `${importCache(cacheModule)} const cache = inkTextCache('measureText');`]],
  },
  {
    file: '/ink/build/wrap-text.js',
    edits: (cacheModule) => [
      ['const cache = {};', `${importCache(cacheModule)} const cache = inkTextCache('wrapText');`],
      ['const cachedText = cache[cacheKey];', 'const cachedText = cache.get(cacheKey);'],
      ['cache[cacheKey] = wrappedText;', 'cache.set(cacheKey, wrappedText);'],
    ],
  },
];

// on the line it replaces, so that ink's line numbers (and source maps) still hold
function importCache(cacheModule: string): string {
  return `import { inkTextCache } from ${JSON.stringify(cacheModule)};`;
}

/** ink's source with its cache bounded, or undefined: not one of the two files, or not the text expected. */
export function rewriteInkSource(url: string, source: string, cacheModule: string): string | undefined {
  const patch = INK_PATCHES.find((p) => url.endsWith(p.file));
  if (patch === undefined) return undefined;
  let text = source;
  for (const [from, to] of patch.edits(cacheModule)) {
    const at = text.indexOf(from);
    if (at < 0 || text.indexOf(from, at + 1) >= 0) return undefined;
    text = text.slice(0, at) + to + text.slice(at + from.length);
  }
  return text;
}

/** What a load hook gets from the next one (the fields used here). */
interface Loaded {
  readonly format?: string | null | undefined;
  readonly source?: string | ArrayBuffer | NodeJS.TypedArray | null | undefined;
}

/** `loaded` with ink's cache bounded when it is one of the two files as expected, else `loaded` itself. */
export function rewriteLoaded<L extends Loaded>(url: string, loaded: L, cacheModule: string): L {
  if (loaded.format !== 'module' || !INK_PATCHES.some((p) => url.endsWith(p.file))) return loaded;
  const { source } = loaded;
  if (source === undefined || source === null) return loaded;
  const text = typeof source === 'string' ? source : new TextDecoder().decode(source);
  const rewritten = rewriteInkSource(url, text, cacheModule);
  return rewritten === undefined ? loaded : { ...loaded, source: rewritten };
}

/** The same hook, synchronous and in-thread, for module.registerHooks (Node 22.15+). */
export function syncLoadHook(cacheModule: string) {
  return <L extends Loaded>(url: string, context: unknown, nextLoad: (url: string, context?: unknown) => L): L =>
    rewriteLoaded(url, nextLoad(url, context), cacheModule);
}

// module.register's hook, on Node's hooks thread
let cacheModule: string | undefined;

export const initialize: InitializeHook<InkTextCachesHookData> = (data) => {
  cacheModule = data.cacheModule;
};

export const load: LoadHook = async (url, context, nextLoad) => {
  const loaded = await nextLoad(url, context);
  return cacheModule === undefined ? loaded : rewriteLoaded(url, loaded, cacheModule);
};
