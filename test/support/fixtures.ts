import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(REPO_ROOT, 'fixtures');

export function readFixture(relative: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, relative));
}

/** The real amqplib ⇄ RabbitMQ 3.10 session captured by scripts/capture-session.mjs. */
export function capturedSession(): { c2s: Buffer; s2c: Buffer } {
  return {
    c2s: readFixture('sessions/amqplib-rabbitmq.c2s.bin'),
    s2c: readFixture('sessions/amqplib-rabbitmq.s2c.bin'),
  };
}
