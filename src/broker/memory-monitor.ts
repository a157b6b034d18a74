// The built-in broker's memory alarm (RabbitMQ's vm_memory_high_watermark) on what a Node
// process can run out of: the V8 heap, whose hard limit kills the process long before RAM
// is full, and ArrayBuffer memory (message bodies, socket chunks), bounded by RAM.
//
// Measuring costs ~9 µs (process.memoryUsage), so it is not done per frame: a running count
// of bytes received triggers a measurement every `step` bytes, a step that shrinks as memory
// nears the limit. Garbage counts as used until a GC: before the alarm is raised, and while
// it is on, a full GC (rate-limited) makes sure it is live memory that is over the limit.

import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';

/** RabbitMQ's default vm_memory_high_watermark: this fraction of the machine's memory. */
export const DEFAULT_MEMORY_FRACTION = 0.4;
/**
 * The V8 heap in use above this fraction of its old generation's limit raises the alarm: V8
 * dies when a full GC cannot get live objects below that limit; the rest is headroom for
 * garbage and for what arrives before the next measurement.
 */
export const HEAP_LIMIT_FRACTION = 0.6;
/**
 * V8's heap_size_limit includes the young generation (3 × a 16 MiB semi-space on 64-bit),
 * where nothing lives long: the old generation's limit is the rest.
 */
const YOUNG_GENERATION = 48 * 1024 * 1024;
// A small message costs ~10 times its wire size in heap: measure every 1/64 of the headroom.
const MIN_STEP = 64 * 1024;
const MAX_STEP = 16 * 1024 * 1024;
/** A forced GC at most this often, and at most 5 % of the time. */
const MIN_GC_INTERVAL_MS = 1000;

export interface MemoryUse {
  /** V8 heap in use (garbage included until the next GC) */
  readonly heap: number;
  /** ArrayBuffer memory: bodies, socket chunks, output slabs */
  readonly buffers: number;
}

function measure(): MemoryUse {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

/** The memory this process may use: RAM, or less under a cgroup limit (a container). */
export function availableMemory(): number {
  const total = os.totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return constrained > 0 && constrained < total ? constrained : total;
}

let forceGc: (() => void) | undefined | null;

/** V8's full GC (the trick jest uses for leak detection); null when it cannot be had. */
function gcFunction(): (() => void) | null {
  if (forceGc !== undefined) return forceGc;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return (forceGc = exposed);
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn: unknown = vm.runInNewContext('gc');
    forceGc = typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    forceGc = null;
  }
  return forceGc;
}

export class MemoryMonitor {
  /** heap + buffers allowed */
  maxMemory: number;
  /** heap allowed: a fraction of V8's old generation limit */
  readonly maxHeap: number;
  private alarm = false;
  private sinceCheck = 0;
  private step = MIN_STEP;
  private lastGcAt = -Infinity;
  private lastGcMs = 0;
  private last: MemoryUse = { heap: 0, buffers: 0 };

  /** `maxMemory`: heap + buffers above which the alarm is raised; default 0.4 × the memory the process may use */
  constructor(maxMemory?: number) {
    this.maxMemory = maxMemory ?? Math.floor(availableMemory() * DEFAULT_MEMORY_FRACTION);
    const limit = v8.getHeapStatistics().heap_size_limit;
    this.maxHeap = Math.floor(Math.max(limit - YOUNG_GENERATION, limit / 4) * HEAP_LIMIT_FRACTION);
    this.check();
  }

  get on(): boolean {
    return this.alarm;
  }

  /** The last measurement. */
  get use(): MemoryUse {
    return this.last;
  }

  /** Bytes arrived from a client: measures once every `step` of them. Returns the alarm state. */
  noteBytes(n: number): boolean {
    this.sinceCheck += n;
    return this.sinceCheck < this.step ? this.alarm : this.check();
  }

  /** Measures now (a GC first when over the limit and one is due); returns the alarm state. */
  check(): boolean {
    this.sinceCheck = 0;
    let use = measure();
    if (this.over(use) && this.gcDue()) {
      this.collect();
      use = measure();
    }
    this.last = use;
    this.alarm = this.over(use);
    // far from the limit, measure seldom; close to it, every MIN_STEP bytes
    const headroom = Math.min(this.maxMemory - use.heap - use.buffers, this.maxHeap - use.heap);
    this.step = Math.max(MIN_STEP, Math.min(MAX_STEP, Math.floor(headroom / 64)));
    return this.alarm;
  }

  private over(use: MemoryUse): boolean {
    return use.heap + use.buffers > this.maxMemory || use.heap > this.maxHeap;
  }

  private gcDue(): boolean {
    return Date.now() - this.lastGcAt >= Math.max(MIN_GC_INTERVAL_MS, 20 * this.lastGcMs);
  }

  private collect(): void {
    const gc = gcFunction();
    if (gc === null) return;
    const start = Date.now();
    gc();
    this.lastGcAt = Date.now();
    this.lastGcMs = this.lastGcAt - start;
  }
}
