// Prometheus' text format read back by a real parser: the official Python client's
// (prometheus_client.parser, Debian's python3-prometheus-client, which .ci/run installs), run
// by /usr/bin/python3 and answering JSON. Lookups by metric name and labels.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const PYTHON = '/usr/bin/python3';
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    out.append({'name': family.name, 'type': family.type, 'documentation': family.documentation,
                'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in family.samples]})
print(json.dumps(out))
`;

/** Whether the parser is here (CI installs it; elsewhere the tests that need it skip visibly). */
export const HAVE_PROMETHEUS_PARSER = fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import prometheus_client.parser'], { stdio: 'ignore' }).status === 0;

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

interface Family {
  readonly name: string;
  /** counter, gauge, histogram, ... */
  readonly type: string;
  readonly samples: readonly Sample[];
}

export class Scrape {
  readonly families: readonly Family[];
  constructor(text: string) {
    const parsed = spawnSync(PYTHON, ['-c', PARSE], { input: text, encoding: 'utf8' });
    if (parsed.status !== 0) throw new Error(`the Prometheus parser refused the scrape: ${parsed.stderr}`);
    this.families = JSON.parse(parsed.stdout) as Family[];
  }

  /** A family by name as the parser names it (a counter's without its _total suffix). */
  family(name: string): Family {
    const family = this.families.find((f) => f.name === name);
    if (family === undefined) throw new Error(`no metric ${name} in the scrape (has: ${this.families.map((f) => f.name).join(', ')})`);
    return family;
  }

  /** The value of the sample named `sample` whose labels include `labels`; undefined when none has them. */
  value(sample: string, labels: Record<string, string> = {}): number | undefined {
    for (const family of this.families)
      for (const s of family.samples) if (s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    return undefined;
  }

  /** Samples named `sample` (all label sets). */
  samples(sample: string): Sample[] {
    return this.families.flatMap((f) => f.samples.filter((s) => s.name === sample));
  }
}
