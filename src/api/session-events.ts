// A session's events for test code: listeners, async iteration, and waitFor over a bounded
// history, so an assertion can name an event that happened before it asked, without racing.

import { AmqpSpyError } from '../errors.js';
import type { SpyEvent } from '../events.js';
import { eventCost } from '../tui/event-cost.js';
import { parseFilter, type Filter } from '../view/filter.js';
import { formatEventLine } from '../view/format.js';

/** Events kept for waitFor's look into the past, unless `history` says otherwise. */
export const DEFAULT_HISTORY_EVENTS = 10_000;
/** The memory the kept events may take at most (decoded form counted, as the TUI's store does). */
export const HISTORY_MAX_BYTES = 64 * 1024 * 1024;
/** How long waitFor waits unless told: below the test timeouts of vitest and jest (5 s). */
export const DEFAULT_WAIT_TIMEOUT_MS = 3000;
/** Events an iterator may have waiting for its reader before it fails rather than grow. */
export const ITERATOR_MAX_BACKLOG = 100_000;
/** Events a waitFor error lists. */
const NEAREST_LISTED = 5;

export type EventListener = (event: SpyEvent) => void;
export type EventPredicate = (event: SpyEvent) => boolean;

export interface WaitForOptions {
  /** ms; default 3000 */
  readonly timeout?: number;
  /** gives up early, rejecting with a WaitForError whose reason is `aborted` */
  readonly signal?: AbortSignal;
}

/** A session's events: an async iterable of every event from the moment it is iterated, and listeners. */
export interface SessionEvents extends AsyncIterable<SpyEvent> {
  /** Calls `listener` with every later event, synchronously; returns the function that removes it. */
  on(listener: EventListener): () => void;
  /** The events still kept (the last `history` of them, at most 64 MiB), oldest first. */
  history(): SpyEvent[];
}

/** waitFor found no matching event: in time, before the session closed, or before it was aborted. */
export class WaitForError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(
    readonly reason: 'timeout' | 'closed' | 'aborted',
    /** the filter string, or the predicate's name */
    readonly wanted: string,
    /** the events closest to matching (most terms of the filter matched; else the latest) */
    readonly nearest: readonly SpyEvent[],
    message: string,
  ) {
    super(message);
    this.name = 'WaitForError';
  }
}

/** An async iterator fell further behind than ITERATOR_MAX_BACKLOG events. */
export class EventBacklogError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor() {
    super(`an events iterator fell ${ITERATOR_MAX_BACKLOG} events behind: read it faster, or use waitFor / on() instead`);
    this.name = 'EventBacklogError';
  }
}

interface Waiter {
  readonly matches: EventPredicate;
  readonly resolve: (event: SpyEvent) => void;
  readonly reject: (error: unknown) => void;
  /** the session closed first */
  readonly closed: () => void;
}

interface IteratorState {
  readonly queue: SpyEvent[];
  wake: (() => void) | undefined;
  failed: boolean;
}

/**
 * The sink a session's bus feeds, and what the API hands out of it. History is a ring bounded
 * by count and by memory, so a long session holds no more than its bounds.
 */
export class SessionEventStream implements SessionEvents {
  readonly #maxEvents: number;
  /** kept events from #head on; compacted when the dead prefix grows past half */
  #ring: SpyEvent[] = [];
  #costs: number[] = [];
  #head = 0;
  #bytes = 0;
  #seen = 0;
  #closed = false;
  readonly #listeners = new Set<EventListener>();
  readonly #iterators = new Set<IteratorState>();
  readonly #waiters = new Set<Waiter>();

  constructor(
    historyEvents: number,
    /** a listener that threw, as one line (the session's notices) */
    private readonly onListenerError: (error: unknown) => void,
  ) {
    this.#maxEvents = historyEvents;
  }

  /** The bus's sink. */
  readonly sink = (event: SpyEvent): void => {
    this.#seen++;
    this.#keep(event);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
    for (const it of this.#iterators) {
      if (it.failed) continue;
      if (it.queue.length >= ITERATOR_MAX_BACKLOG) it.failed = true;
      else it.queue.push(event);
      it.wake?.();
    }
    for (const waiter of this.#waiters) {
      let matched: boolean;
      try {
        matched = waiter.matches(event);
      } catch (error) {
        waiter.reject(error);
        continue;
      }
      if (matched) waiter.resolve(event);
    }
  };

  #keep(event: SpyEvent): void {
    if (this.#maxEvents === 0) return;
    const cost = eventCost(event);
    this.#ring.push(event);
    this.#costs.push(cost);
    this.#bytes += cost;
    while (this.#ring.length - this.#head > this.#maxEvents || (this.#bytes > HISTORY_MAX_BYTES && this.#ring.length - this.#head > 1)) {
      this.#bytes -= this.#costs[this.#head]!;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#ring.length) {
      this.#ring = this.#ring.slice(this.#head);
      this.#costs = this.#costs.slice(this.#head);
      this.#head = 0;
    }
  }

  on(listener: EventListener): () => void {
    // a wrapper, so the same function given twice is called twice and removed once
    const entry: EventListener = (event) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  history(): SpyEvent[] {
    return this.#ring.slice(this.#head);
  }

  [Symbol.asyncIterator](): AsyncIterator<SpyEvent> {
    const state: IteratorState = { queue: [], wake: undefined, failed: false };
    let read = 0;
    if (!this.#closed) this.#iterators.add(state);
    const finish = (): IteratorResult<SpyEvent> => {
      this.#iterators.delete(state);
      state.queue.length = 0;
      return { done: true, value: undefined };
    };
    return {
      next: async (): Promise<IteratorResult<SpyEvent>> => {
        for (;;) {
          if (read < state.queue.length) {
            const value = state.queue[read++]!;
            // drop what was read once it is most of the queue, so reading keeps it short
            if (read > 1024 && read * 2 > state.queue.length) {
              state.queue.splice(0, read);
              read = 0;
            }
            return { done: false, value };
          }
          if (state.failed) {
            finish();
            throw new EventBacklogError();
          }
          if (this.#closed || !this.#iterators.has(state)) return finish();
          await new Promise<void>((resolve) => {
            state.wake = resolve;
          });
          state.wake = undefined;
        }
      },
      return: async (): Promise<IteratorResult<SpyEvent>> => {
        const result = finish();
        state.wake?.();
        return result;
      },
    };
  }

  /**
   * The first event that matches: among the kept history first (oldest first), else the next
   * one to come. Rejects with WaitForError on timeout, close or abort, with the nearest events.
   */
  waitFor<E extends SpyEvent>(wanted: (event: SpyEvent) => event is E, options?: WaitForOptions): Promise<E>;
  waitFor(wanted: string | EventPredicate, options?: WaitForOptions): Promise<SpyEvent>;
  waitFor(wanted: string | EventPredicate, options: WaitForOptions = {}): Promise<SpyEvent> {
    return new Promise<SpyEvent>((resolve, reject) => {
      const timeout = options.timeout ?? DEFAULT_WAIT_TIMEOUT_MS;
      if (!(timeout >= 0) || !Number.isFinite(timeout)) throw new WaitForOptionError(`timeout must be a number of ms, got ${String(timeout)}`);
      // a bad filter string rejects with its FilterSyntaxError
      const filter = typeof wanted === 'string' ? parseFilter(wanted) : undefined;
      const matches: EventPredicate = filter ? (event) => !isMessagePart(event) && filter.matches(event) : (wanted as EventPredicate);
      const label = typeof wanted === 'string' ? JSON.stringify(wanted) : wanted.name ? `predicate ${wanted.name}` : 'a predicate';
      for (let i = this.#head; i < this.#ring.length; i++) {
        const event = this.#ring[i]!;
        if (matches(event)) {
          resolve(event);
          return;
        }
      }
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => fail('aborted', 'was aborted');
      const settle = () => {
        this.#waiters.delete(waiter);
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (reason: WaitForError['reason'], what: string) => {
        settle();
        const nearest = nearestEvents(this.history(), filter);
        reject(new WaitForError(reason, label, nearest, describeMiss(label, what, this.#seen, this.#maxEvents, nearest, filter)));
      };
      const waiter: Waiter = {
        matches,
        resolve: (event) => {
          settle();
          resolve(event);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        closed: () => fail('closed', 'found nothing before the session closed'),
      };
      if (this.#closed) return fail('closed', 'found nothing: the session is closed');
      if (options.signal?.aborted) return fail('aborted', 'was aborted');
      this.#waiters.add(waiter);
      timer = setTimeout(() => fail('timeout', `timed out after ${timeout} ms`), timeout);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The session is over: iterators end, pending waitFor calls reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const it of this.#iterators) it.wake?.();
    for (const waiter of [...this.#waiters]) waiter.closed();
  }
}

/** A waitFor option that makes no sense (a negative timeout). */
export class WaitForOptionError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(message: string) {
    super(`waitFor: ${message}`);
    this.name = 'WaitForOptionError';
  }
}

/**
 * A frame a message event stands for (its content method, header or body frames): a filter
 * string sees messages as the headless output shows them, one event with the body, so
 * `method:basic.publish` resolves with the message rather than its first frame.
 */
export function isMessagePart(event: SpyEvent): boolean {
  if (event.kind !== 'frame') return false;
  const frame = event.frame;
  return frame.type === 'header' || frame.type === 'body' || (frame.type === 'method' && frame.method.spec.content === true);
}

/**
 * The events closest to matching: with a filter of several terms, those matching the most
 * terms (the latest first among equals); otherwise the latest events.
 */
function nearestEvents(history: readonly SpyEvent[], filter: Filter | undefined): SpyEvent[] {
  const terms = filter?.terms ?? [];
  if (terms.length > 1) {
    let best = 0;
    let nearest: SpyEvent[] = [];
    for (let i = history.length - 1; i >= 0; i--) {
      const event = history[i]!;
      if (isMessagePart(event)) continue;
      const score = terms.reduce((n, term) => n + (term.matches(event) ? 1 : 0), 0);
      if (score > best) {
        best = score;
        nearest = [event];
      } else if (score === best && score > 0 && nearest.length < NEAREST_LISTED) nearest.push(event);
    }
    if (nearest.length > 0) return nearest.reverse();
  }
  return history.filter((event) => filter === undefined || !isMessagePart(event)).slice(-NEAREST_LISTED);
}

function describeMiss(label: string, what: string, seen: number, kept: number, nearest: readonly SpyEvent[], filter: Filter | undefined): string {
  const head = `waitFor(${label}) ${what}; ${seen} event${seen === 1 ? '' : 's'} seen (the last ${kept} are kept and were searched)`;
  if (nearest.length === 0) return `${head}; there were none`;
  const terms = filter?.terms ?? [];
  const lines = nearest.map((event) => {
    const failed = terms.filter((term) => !term.matches(event)).map((term) => term.source);
    return `  ${formatEventLine(event)}${terms.length > 1 && failed.length > 0 ? `  [fails ${failed.join(' ')}]` : ''}`;
  });
  return `${head}; nearest:\n${lines.join('\n')}`;
}
