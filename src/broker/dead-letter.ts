// Dead-lettering as RabbitMQ 3.10 does it: the `x-death` history (one entry per queue and
// reason, newest first, `count` incremented on repeats), the `x-first-death-*` headers, the
// expiration moved into `original-expiration`, and the cycle check for automatic deaths.

import type { FieldTable, FieldValue } from '../decoder/types.js';
import { amqpStringText, compareKeys, lookup } from './field-values.js';
import { headerRoutes, messageHeaders, type BrokerMessage } from './message.js';

export type DeadLetterReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

type Entry = readonly [string, FieldValue];

const S = (value: string): FieldValue => ({ type: 'S', value });

function sortTable(entries: readonly Entry[]): Entry[] {
  // Erlang's keysort is stable, like Array.prototype.sort
  return [...entries].sort((a, b) => compareKeys(a[0], b[0]));
}

/** RabbitMQ's set_table_value: replace (or add) the key, then sort the table by key. */
function setTableValue(entries: readonly Entry[], key: string, value: FieldValue): Entry[] {
  const i = entries.findIndex(([k]) => k === key);
  const next = [...entries];
  if (i >= 0) next[i] = [key, value];
  else next.push([key, value]);
  return sortTable(next);
}

function stringField(table: FieldTable, key: string): string | undefined {
  const v = lookup(table, key);
  return v !== undefined && v.type === 'S' ? amqpStringText(v.value) : undefined;
}

function updateXDeath(info: Entry[], headers: readonly Entry[]): Entry[] {
  const queue = amqpStringText((info[1]![1] as { value: string }).value);
  const reason = amqpStringText((info[0]![1] as { value: string }).value);
  const exchange = amqpStringText((info[3]![1] as { value: string }).value);
  const existing = lookup({ entries: headers }, 'x-death');
  if (existing === undefined) {
    let h = setTableValue(headers, 'x-first-death-reason', S(reason));
    h = setTableValue(h, 'x-first-death-queue', S(queue));
    h = setTableValue(h, 'x-first-death-exchange', S(exchange));
    const entry: FieldValue = { type: 'F', value: { entries: [['count', { type: 'l', value: 1n }], ...info] } };
    return setTableValue(h, 'x-death', { type: 'A', value: [entry] });
  }
  if (existing.type !== 'A') {
    // not an array: RabbitMQ logs a warning and starts the history again
    const entry: FieldValue = { type: 'F', value: { entries: sortTable([['count', { type: 'l', value: 1n }], ...info]) } };
    return setTableValue(headers, 'x-death', { type: 'A', value: [entry] });
  }
  let match: FieldTable | undefined;
  const others: FieldValue[] = [];
  for (const d of existing.value) {
    if (match === undefined && d.type === 'F' && stringField(d.value, 'queue') === queue && stringField(d.value, 'reason') === reason) match = d.value;
    else others.push(d);
  }
  let updated: Entry[];
  if (match === undefined) {
    updated = [['count', { type: 'l', value: 1n }], ...info];
  } else {
    const count = lookup(match, 'count');
    const n =
      count === undefined
        ? undefined
        : count.type === 'l' || count.type === 'L'
          ? count.value
          : typeof count.value === 'number'
            ? BigInt(Math.trunc(count.value))
            : undefined;
    updated =
      n === undefined
        ? [['count', { type: 'l', value: 1n }], ...match.entries]
        : match.entries.map(([k, v]): Entry => (k === 'count' ? [k, { type: 'l', value: n + 1n }] : [k, v]));
  }
  return setTableValue(headers, 'x-death', { type: 'A', value: [{ type: 'F', value: { entries: sortTable(updated) } }, ...others] });
}

/**
 * The message that leaves `queue` for the dead-letter exchange `dlx`: new x-death headers,
 * no expiration, routed with `dlrk` when the queue sets one (and then without CC).
 */
export function deadLetterMessage(
  message: BrokerMessage,
  reason: DeadLetterReason,
  queue: string,
  dlx: string,
  dlrk: string | undefined,
  nowMs: number,
): BrokerMessage {
  const held = messageHeaders(message);
  // decoded once: a held table decodes on each read
  const headers = held === undefined ? undefined : { entries: held.entries };
  const headerEntries = headers?.entries ?? [];
  const routingKeys = [message.routingKeys[0] ?? message.routingKey, ...headerRoutes(headers, 'CC'), ...headerRoutes(headers, 'BCC')];
  const info: Entry[] = [
    ['reason', S(reason)],
    ['queue', S(queue)],
    ['time', { type: 'T', value: BigInt(Math.floor(nowMs / 1000)) }],
    ['exchange', S(message.exchange)],
    ['routing-keys', { type: 'A', value: routingKeys.map(S) }],
  ];
  const expiration = message.properties['expiration'];
  if (expiration !== undefined) info.push(['original-expiration', S(amqpStringText(expiration as string | Uint8Array))]);
  let newHeaders = updateXDeath(info, headerEntries);
  if (dlrk !== undefined) newHeaders = newHeaders.filter(([k]) => k !== 'CC');
  const { expiration: _dropped, ...rest } = message.properties;
  const deathKeys = dlrk !== undefined ? [dlrk] : message.routingKeys;
  return {
    exchange: dlx,
    routingKey: deathKeys[0] ?? '',
    routingKeys: deathKeys,
    properties: { ...rest, headers: { entries: newHeaders } },
    body: message.body,
  };
}

/**
 * RabbitMQ's cycle check for a dead-lettered message about to enter `queue`: it cycles when
 * the queue is already in its x-death history and no death on the way back was a reject
 * (so no client took part). Such deliveries are dropped. Rejections never count as cycles.
 */
export function isDeadLetterCycle(queue: string, message: BrokerMessage, reason: DeadLetterReason): boolean {
  if (reason === 'rejected') return false;
  const deaths = lookup(messageHeaders(message), 'x-death');
  if (deaths === undefined || deaths.type !== 'A') return false;
  for (const d of deaths.value) {
    if (d.type !== 'F') return false; // a client put something odd there: not automatic
    if (stringField(d.value, 'reason') === 'rejected') return false;
    if (stringField(d.value, 'queue') === queue) return true;
  }
  return false;
}
