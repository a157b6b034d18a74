// What the proxy offers something that sits in its forwarding path (the fault engine): the
// bytes each side sends, and ways to write, inject, swallow, hold and cut. The proxy knows no
// rule; without an interposer (no rule armed) it relays bytes as it always did.

import type { Direction } from '../events.js';

/** One direction of a connection: writes go to its peer (c2s: the upstream; s2c: the client). */
export interface InterposedSide {
  /** Writes bytes as the sender sent them (whole frames), reported as forwarded. */
  forward(bytes: Uint8Array): void;
  /** Writes a frame the sender never sent, reported as injected. */
  inject(frame: Uint8Array): void;
  /** Reports a frame the sender sent that is not forwarded. */
  suppress(frame: Uint8Array): void;
  /** Stops (true) or resumes reading the sender, for what the interposer holds. */
  holdSender(held: boolean): void;
  /** Half-closes toward the peer (FIN), after what was written. */
  end(): void;
}

export interface RelayControl {
  readonly id: number;
  readonly c2s: InterposedSide;
  readonly s2c: InterposedSide;
  /** Ends both sockets now: a FIN after what was written (`fin`), or a reset (`reset`). */
  cut(how: 'fin' | 'reset', detail: string): void;
}

/** One connection's stage: the proxy hands it every byte read instead of forwarding it. */
export interface InterposedConnection {
  /** Bytes read from `dir`'s sender. */
  data(dir: Direction, chunk: Buffer): void;
  /** `dir`'s sender half-closed (FIN): call `end()` on that side once what is held is written. */
  ended(dir: Direction): void;
  /** Both sockets are closed: drop timers and what is held. */
  closed(): void;
}

export interface Interposer {
  /** A connection's upstream connected; undefined leaves it a plain relay. */
  open(control: RelayControl): InterposedConnection | undefined;
}
