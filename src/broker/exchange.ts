// What every exchange type shares: its declared properties, its bindings (by identity, for
// listing and unbinding) and the routing hook each type implements over its own index.

import type { FieldTable } from '../decoder/types.js';
import { canonicalTableKey, EMPTY_TABLE } from './field-values.js';

export type DestinationKind = 'queue' | 'exchange';

export interface Binding {
  /** source exchange name */
  readonly source: string;
  readonly destinationKind: DestinationKind;
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export interface ExchangeProperties {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

/** RabbitMQ's binding identity: source, destination, key and (order-insensitive) arguments. */
export function bindingId(destinationKind: DestinationKind, destination: string, routingKey: string, args: FieldTable): string {
  return `${destinationKind === 'queue' ? 'q' : 'e'}\u0000${destination}\u0000${routingKey}\u0000${canonicalTableKey(args)}`;
}

const destinationId = (kind: DestinationKind, name: string): string => (kind === 'queue' ? `q:${name}` : `e:${name}`);

export abstract class Exchange {
  abstract readonly type: string;
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
  private readonly byId = new Map<string, Binding>();
  /** destination → its bindings by id, so a deleted queue's bindings go without a scan */
  private readonly byDestination = new Map<string, Map<string, Binding>>();

  constructor(props: ExchangeProperties) {
    this.name = props.name;
    this.durable = props.durable;
    this.autoDelete = props.autoDelete;
    this.internal = props.internal;
    this.arguments = props.arguments;
  }

  get bindingCount(): number {
    return this.byId.size;
  }

  bindings(): IterableIterator<Binding> {
    return this.byId.values();
  }

  /** Validates binding arguments for this type (throws AmqpError, e.g. a bad `x-match`). */
  validateBinding(_routingKey: string, _args: FieldTable): void {}

  /**
   * Adds a binding; false when an identical one exists (binding twice is not an error).
   * Throws (before changing anything) when the type refuses the arguments.
   */
  bind(destinationKind: DestinationKind, destination: string, routingKey: string, args: FieldTable = EMPTY_TABLE): boolean {
    this.validateBinding(routingKey, args);
    const id = bindingId(destinationKind, destination, routingKey, args);
    if (this.byId.has(id)) return false;
    const binding: Binding = { source: this.name, destinationKind, destination, routingKey, arguments: args };
    this.byId.set(id, binding);
    const dest = destinationId(destinationKind, destination);
    let forDest = this.byDestination.get(dest);
    if (forDest === undefined) {
      forDest = new Map();
      this.byDestination.set(dest, forDest);
    }
    forDest.set(id, binding);
    this.index(binding);
    return true;
  }

  /** Removes a binding; undefined when there was none (RabbitMQ: unbinding nothing is fine). */
  unbind(destinationKind: DestinationKind, destination: string, routingKey: string, args: FieldTable = EMPTY_TABLE): Binding | undefined {
    const id = bindingId(destinationKind, destination, routingKey, args);
    const binding = this.byId.get(id);
    if (binding === undefined) return undefined;
    this.byId.delete(id);
    const dest = destinationId(destinationKind, destination);
    const forDest = this.byDestination.get(dest);
    forDest?.delete(id);
    if (forDest?.size === 0) this.byDestination.delete(dest);
    this.unindex(binding);
    return binding;
  }

  /** Removes every binding to the destination (it was deleted); returns them. */
  unbindDestination(destinationKind: DestinationKind, destination: string): Binding[] {
    const dest = destinationId(destinationKind, destination);
    const forDest = this.byDestination.get(dest);
    if (forDest === undefined) return [];
    this.byDestination.delete(dest);
    const removed: Binding[] = [];
    for (const [id, b] of forDest) {
      this.byId.delete(id);
      this.unindex(b);
      removed.push(b);
    }
    return removed;
  }

  hasBindingTo(destinationKind: DestinationKind, destination: string): boolean {
    return this.byDestination.has(destinationId(destinationKind, destination));
  }

  /**
   * Adds the bindings the message matches to `out` (a binding at most once).
   * `headers` is the message's `headers` property.
   */
  abstract route(routingKey: string, headers: FieldTable | undefined, out: Set<Binding>): void;

  protected abstract index(binding: Binding): void;
  protected abstract unindex(binding: Binding): void;
}
