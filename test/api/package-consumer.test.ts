// `import { startBroker } from 'amqp-spy'` from a project that depends on the package, as
// npm installs a `file:` dependency (a link in node_modules): the root export resolves to the
// built dist/, runs, and its types check under strict NodeNext resolution.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.js';

let project: string;

beforeAll(() => {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist/index.js'))) throw new Error('dist/index.js is missing: run npm run build (npm test does)');
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-consumer-'));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', dependencies: { 'amqp-spy': `file:${REPO_ROOT}` } }));
  const modules = path.join(project, 'node_modules');
  fs.mkdirSync(path.join(modules, '@types'), { recursive: true });
  fs.symlinkSync(REPO_ROOT, path.join(modules, 'amqp-spy'));
  for (const dep of ['amqplib', '@types/amqplib', '@types/node']) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', dep), path.join(modules, dep));
});
afterAll(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

describe('the package from a project that depends on it', { timeout: 120_000 }, () => {
  it('imports by name, starts a broker an amqplib client uses, and closes', () => {
    const script = `
      import { startBroker } from 'amqp-spy';
      import amqp from 'amqplib';
      const broker = await startBroker();
      const connection = await amqp.connect(broker.url);
      const channel = await connection.createChannel();
      channel.sendToQueue('jobs', Buffer.from('hi'));
      const event = await broker.waitFor('method:basic.publish rk:jobs');
      await connection.close();
      await broker.close();
      console.log(JSON.stringify({ kind: event.kind, url: broker.url.replace(/\\d+$/, 'PORT') }));
    `;
    fs.writeFileSync(path.join(project, 'main.mjs'), script);
    const out = execFileSync(process.execPath, ['main.mjs'], { cwd: project, encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out)).toEqual({ kind: 'message', url: 'amqp://guest:guest@127.0.0.1:PORT' });
  });

  it("its types: a consumer's TypeScript checks under strict NodeNext, and a misuse does not", () => {
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2023',
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          types: ['node'],
        },
        include: ['*.ts'],
      }),
    );
    fs.writeFileSync(
      path.join(project, 'main.ts'),
      `import { startBroker, startProxy, openRecording, WaitForError, type MessageEvent, type SpyEvent } from 'amqp-spy';
      const broker = await startBroker({ port: 0, users: [{ name: 'a', password: 'b' }] });
      const isPublish = (e: SpyEvent): e is MessageEvent => e.kind === 'message';
      const message: MessageEvent = await broker.waitFor(isPublish, { timeout: 100 });
      const body: Uint8Array = message.body;
      for await (const event of broker.events) if (event.kind === 'conn.close') console.log(event.reason);
      const proxy = await startProxy({ upstream: broker.url });
      for await (const event of await openRecording('x.jsonl')) console.log(event.seq);
      console.log(body, proxy.port, WaitForError.name);
      export {};
      `,
    );
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', timeout: 60_000 });
    fs.writeFileSync(path.join(project, 'bad.ts'), `import { startBroker } from 'amqp-spy';\nawait startBroker({ port: '5672' });\nexport {};\n`);
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', timeout: 60_000 });
    } catch (error) {
      output = String((error as { stdout: string }).stdout);
    }
    expect(output).toMatch(/bad\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });
});
