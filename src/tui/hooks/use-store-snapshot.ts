// Re-renders when the store changes, at most every `intervalMs` (default 50 ms: ~20 renders/s)
// however fast events arrive, and once a second anyway so rates fall to zero when idle. When
// drawing gets expensive (a big terminal), renders space out so that drawing takes at most
// about a ninth of the time: under a flood, a 150x40 screen cost ~15 ms a render and drawing it
// every 50 ms took a third of a core, which the traffic's own processes need. Keys are not
// held back by this: their state changes render at once.

import { useEffect, useRef, useState } from 'react';
import type { EventStore } from '../event-store.js';

export interface StoreSnapshot {
  /** the store's version when taken */
  readonly version: number;
  /** the store's end (absolute index) when taken: what the list may show */
  readonly end: number;
  /** renders triggered so far (for the benchmark) */
  readonly renders: number;
}

export const RENDER_INTERVAL_MS = 50;
/** The next store-driven render waits this many times the last renders' cost. */
const COST_FACTOR = 8;

/** What the last renders cost (ink's output phase), fed from ink's onRender. */
export class RenderCost {
  private average = 0;

  record(milliseconds: number): void {
    // a moving average, so one slow frame does not stall the screen
    this.average = this.average === 0 ? milliseconds : this.average * 0.7 + milliseconds * 0.3;
  }

  /** The interval to wait between renders, never below `minimum`. */
  interval(minimum: number): number {
    return Math.max(minimum, Math.min(1000, this.average * COST_FACTOR));
  }
}
const IDLE_TICK_MS = 1000;

export function useStoreSnapshot(store: EventStore, intervalMs: number = RENDER_INTERVAL_MS, cost?: RenderCost): StoreSnapshot {
  const take = (renders: number): StoreSnapshot => ({ version: store.version, end: store.endIndex, renders });
  const [snapshot, setSnapshot] = useState<StoreSnapshot>(() => take(0));
  const renders = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `take` is remade each render and reads only `store`
  useEffect(() => {
    let timer: NodeJS.Timeout | undefined;
    let last = 0;
    const flush = () => {
      timer = undefined;
      last = performance.now();
      setSnapshot(take(++renders.current));
    };
    const onChange = () => {
      if (timer) return;
      timer = setTimeout(flush, Math.max(0, last + (cost ? cost.interval(intervalMs) : intervalMs) - performance.now()));
    };
    const unsubscribe = store.subscribe(onChange);
    const idle = setInterval(() => {
      if (!timer && performance.now() - last >= IDLE_TICK_MS) flush();
    }, IDLE_TICK_MS);
    idle.unref?.();
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      clearInterval(idle);
    };
  }, [store, intervalMs, cost]);
  return snapshot;
}
