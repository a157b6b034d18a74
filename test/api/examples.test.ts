// The examples in examples/ are real test suites: each runs here as its own runner would run
// it, against the built package (`import ... from 'amqp-spy'` resolves to dist/), and must pass.
// With AMQP_SPY_RABBITMQ_URL set, their proxy suites run in front of RabbitMQ.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fixtures.js';

/** The environment without this vitest's own variables, which would confuse a child runner. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1', PYTHONDONTWRITEBYTECODE: '1' };
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('VITEST') && key !== 'NODE_OPTIONS' && key !== 'FORCE_COLOR') env[key] = value;
  return env;
}

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: REPO_ROOT, env: childEnv(), encoding: 'utf8', timeout: 100_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ? String(result.error) : ''}` };
}

const SYSTEM_PYTHON = '/usr/bin/python3';
const pythonReady = run(SYSTEM_PYTHON, ['-c', 'import pika, pytest']).status === 0;
const ci = process.env['CI'] === 'true';

describe('examples/', { timeout: 120_000 }, () => {
  it('vitest (amqplib): examples/vitest passes', () => {
    const { status, output } = run(process.execPath, [path.join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', 'examples/vitest']);
    expect(output).toMatch(/Tests\s+\d+ passed/);
    expect(status, output).toBe(0);
  });

  it('node:test (@cloudamqp/amqp-client): examples/node-test passes', () => {
    const { status, output } = run(process.execPath, ['--test', 'examples/node-test/']);
    expect(output).toMatch(/# pass [1-9]/);
    expect(output).toContain('# fail 0');
    expect(status, output).toBe(0);
  });

  it('the TypeScript example type-checks against the published types (strict NodeNext)', () => {
    const { status, output } = run(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'examples']);
    expect(status, output).toBe(0);
  });

  it('docs/api.md: every js block runs as a script', () => {
    const blocks = [...fs.readFileSync(path.join(REPO_ROOT, 'docs/api.md'), 'utf8').matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const { status, output } = run(process.execPath, ['--input-type=module', '-e', block]);
      expect(status, `${block}\n---\n${output}`).toBe(0);
    }
  });

  // the system Python: Debian's python3-pika and python3-pytest (.ci/run installs them)
  it.skipIf(!pythonReady && !ci)(
    `pytest (pika, amqp-spy --ready as a subprocess): examples/python passes${pythonReady ? '' : ` (skipped: ${SYSTEM_PYTHON} lacks pika or pytest; apt-get install python3-pika python3-pytest)`}`,
    () => {
      expect(pythonReady, `${SYSTEM_PYTHON} -c "import pika, pytest" fails: apt-get install python3-pika python3-pytest`).toBe(true);
      const { status, output } = run(SYSTEM_PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'examples/python']);
      expect(output).toMatch(/\d+ passed/);
      expect(status, output).toBe(0);
    },
  );
});
