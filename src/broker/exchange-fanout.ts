// Fanout exchange: every binding matches, whatever the key and headers.

import type { FieldTable } from '../decoder/types.js';
import { Exchange, type Binding } from './exchange.js';

export class FanoutExchange extends Exchange {
  readonly type = 'fanout';
  private readonly all = new Set<Binding>();

  route(_routingKey: string, _headers: FieldTable | undefined, out: Set<Binding>): void {
    for (const b of this.all) out.add(b);
  }

  protected index(binding: Binding): void {
    this.all.add(binding);
  }

  protected unindex(binding: Binding): void {
    this.all.delete(binding);
  }
}
