#!/usr/bin/env node
// Broker model benchmark: routing through compiled exchanges and queue throughput.
//
//   npm run build && node bench/broker-bench.mjs
//   BROKER_FROM_SRC=1 npx tsx bench/broker-bench.mjs     (straight from src/, no build)
//
// Workloads (each warmed up, then timed; numbers only, no assertions):
//   direct   10 000 queues bound by their own key on one direct exchange, routed by key
//   topic    10 000 random 2-4 word patterns (10% `*`, 3% `#`, 60-word vocabulary), 2-4 word keys
//   fanout   100 queues on one fanout exchange (routing only, no enqueue)
//   queue    publish + basic.get(no-ack), and publish → consumer → ack, on one queue

const base = process.env.BROKER_FROM_SRC ? '../src/broker/' : '../dist/broker/';
const { VirtualHost } = await import(`${base}vhost.js`);

let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const vocab = Array.from({ length: 60 }, (_, i) => `w${i}`);

function time(label, n, fn, unit = 'routes') {
  fn(Math.min(n, 20_000, Math.max(1, n / 10))); // warm-up
  const t0 = process.hrtime.bigint();
  const extra = fn(n);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rate = Math.round((n / ms) * 1000);
  console.log(`${label.padEnd(44)} ${String(rate).padStart(10)} ${unit}/s  (${n} in ${ms.toFixed(0)} ms)${extra ? `  ${extra}` : ''}`);
}

const conn = 'bench';

{
  const vhost = new VirtualHost();
  vhost.declareExchange({ name: 'd', type: 'direct' });
  const keys = [];
  for (let i = 0; i < 10_000; i++) {
    const q = `q${i}`;
    vhost.declareQueue({ name: q, connection: conn });
    vhost.bindQueue(q, 'd', `key.${i}`);
    keys.push(`key.${i}`);
  }
  time('direct: 10k bindings, route', 1_000_000, (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) hits += vhost.route('d', keys[i % keys.length]).length;
    return `${(hits / n).toFixed(2)} queues/route`;
  });
}

{
  const vhost = new VirtualHost();
  vhost.declareExchange({ name: 't', type: 'topic' });
  const patterns = [];
  for (let i = 0; i < 10_000; i++) {
    const q = `q${i}`;
    vhost.declareQueue({ name: q, connection: conn });
    const len = 2 + Math.floor(rand() * 3);
    const words = Array.from({ length: len }, () => {
      const r = rand();
      return r < 0.1 ? '*' : r < 0.13 ? '#' : pick(vocab);
    });
    vhost.bindQueue(q, 't', words.join('.'));
    patterns.push(words.join('.'));
  }
  const keys = Array.from({ length: 1000 }, () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => pick(vocab)).join('.'));
  time('topic: 10k random patterns, route', 500_000, (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) hits += vhost.route('t', keys[i % keys.length]).length;
    return `${(hits / n).toFixed(1)} queues/route`;
  });
  // baseline for comparison: one precompiled regex per binding, all tested per key
  const esc = (w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const regexes = patterns.map((p) => {
    const words = p.split('.');
    let src = '';
    words.forEach((w, i) => {
      const sep = i === 0 ? '' : '\\.';
      if (w === '#') src += i === 0 ? '(?:[^.]*(?:\\.[^.]*)*?)?' : '(?:\\.[^.]*)*';
      else src += sep + (w === '*' ? '[^.]*' : esc(w));
    });
    return new RegExp(`^${src}$`);
  });
  time('topic baseline: 10k regexes tested per key', 2_000, (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const k = keys[i % keys.length];
      for (const r of regexes) if (r.test(k)) hits++;
    }
    return `${(hits / n).toFixed(1)} matches/route (approximate # handling)`;
  });
}

{
  const vhost = new VirtualHost();
  for (let i = 0; i < 100; i++) {
    vhost.declareQueue({ name: `f${i}`, connection: conn });
    vhost.bindQueue(`f${i}`, 'amq.fanout', '');
  }
  time('fanout: 100 queues, route', 200_000, (n) => {
    for (let i = 0; i < n; i++) vhost.route('amq.fanout', '');
  });
}

{
  const vhost = new VirtualHost();
  vhost.declareQueue({ name: 'q', connection: conn });
  const q = vhost.queue('q');
  const body = new Uint8Array(64);
  time(
    'queue: publish + get(no-ack), 64 B',
    1_000_000,
    (n) => {
      for (let i = 0; i < n; i++) vhost.publish('', 'q', {}, body);
      for (let i = 0; i < n; i++) q.get(true, 'ch');
    },
    'msgs',
  );
  const pending = [];
  const consumer = { tag: 'c', channel: 'ch', noAck: false, prefetchCount: 100, canDeliver: () => true, deliver: (d) => pending.push(d.deliveryId) };
  q.consume(consumer);
  time(
    'queue: publish → consumer (prefetch 100) → ack',
    1_000_000,
    (n) => {
      for (let i = 0; i < n; i++) {
        vhost.publish('', 'q', {}, body);
        if (pending.length >= 50) q.settle(pending.splice(0), 'ack');
      }
      q.settle(pending.splice(0), 'ack');
    },
    'msgs',
  );
  q.cancel(consumer);
  time(
    'queue: publish 1M, then purge',
    1_000_000,
    (n) => {
      for (let i = 0; i < n; i++) q.publish({ exchange: '', routingKey: 'q', routingKeys: ['q'], properties: {}, body });
      q.purge();
    },
    'msgs',
  );
}
