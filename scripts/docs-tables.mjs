#!/usr/bin/env node
// The docs' tables of keys, filter terms and command-line options, generated from what the
// program itself uses: the TUI's key map and filter grammar (the `?` help draws the same
// data) and commander's own `--help` of every command. Each table sits between marker
// comments in README.md or docs/*.md:
//
//   <!-- BEGIN generated: keys -->  ...  <!-- END generated: keys -->
//
// Tables: keys, filter, options (the root command and every subcommand commander lists).
//
//   npm run build && node scripts/docs-tables.mjs           rewrites the tables
//   node scripts/docs-tables.mjs --check                    exits 1 naming the stale ones
//
// test/docs/docs-tables.test.ts runs --check.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => pathToFileURL(path.join(root, 'dist', p)).href;
const CLI = path.join(root, 'dist/cli.js');

/** Text for a markdown table cell: no pipes, no HTML tags, no emphasis by accident. */
const cell = (text) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\*/g, '\\*').replace(/_/g, '\\_');
const code = (text) => `\`${text.replace(/\|/g, '\\|')}\``;

async function keysTable() {
  const { KEYMAP, KEY_GROUPS, FAULT_PANEL_KEYS, keyLabel } = await import(dist('tui/keymap.js'));
  const lines = ['| keys | what it does |', '| --- | --- |'];
  for (const group of KEY_GROUPS) {
    const bindings = KEYMAP.filter((b) => b.group === group);
    if (!bindings.length) continue;
    lines.push(`| **${group}** | |`);
    for (const b of bindings) lines.push(`| ${b.keys.map((k) => code(keyLabel(k))).join(' ')} | ${cell(b.description)} |`);
  }
  lines.push('| **Fault panel (F)** | |');
  for (const b of FAULT_PANEL_KEYS) lines.push(`| ${b.keys.map((k) => code(keyLabel(k))).join(' ')} | ${cell(b.description)} |`);
  return lines.join('\n');
}

async function filterTable() {
  const { FILTER_KEYS, FILTER_SYNTAX } = await import(dist('view/filter.js'));
  const lines = ['| term | matches |', '| --- | --- |'];
  for (const k of FILTER_KEYS) lines.push(`| ${code(k.example)} | ${cell(k.help)} |`);
  for (const k of FILTER_SYNTAX) lines.push(`| ${code(k.example)} | ${cell(k.help)} |`);
  return lines.join('\n');
}

function help(args) {
  const result = spawnSync(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', COLUMNS: '80' } });
  if (result.status !== 0) throw new Error(`amqp-spy ${args.join(' ')} --help failed: ${result.stderr}`);
  return result.stdout;
}

/**
 * A section of commander's help ("Options:", "Commands:", "Arguments:") as [term, text]
 * pairs: a term starts at two spaces of indent, its text continues on deeper-indented lines.
 */
function helpSection(text, title) {
  const lines = text.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const entries = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    const m = /^ {2}(\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (m && !line.startsWith('   ')) entries.push([m[1].trim(), m[2] ?? '']);
    else if (entries.length) {
      const last = entries[entries.length - 1];
      last[1] = `${last[1]} ${line.trim()}`.trim();
    }
  }
  return entries;
}

function optionsRows(helpText) {
  return helpSection(helpText, 'Options')
    .filter(([flags]) => !/^-h, --help$/.test(flags))
    .map(([flags, text]) => `| ${code(flags)} | ${cell(text)} |`);
}

function optionsTable() {
  const rootHelp = help([]);
  const usage = (h) => /^Usage: (.*)$/m.exec(h)?.[1] ?? '';
  const out = [`\`${usage(rootHelp)}\``, '', '| option | what it does |', '| --- | --- |', ...optionsRows(rootHelp)];
  for (const [term, text] of helpSection(rootHelp, 'Commands')) {
    const name = term.split(' ')[0];
    if (name === 'help') continue;
    const sub = help([name]);
    out.push('', `\`${usage(sub)}\` — ${cell(text)}`, '');
    const args = helpSection(sub, 'Arguments').map(([arg, what]) => `| ${code(`<${arg}>`)} | ${cell(what)} |`);
    out.push('| option | what it does |', '| --- | --- |', ...args, ...optionsRows(sub));
  }
  return out.join('\n');
}

const GENERATORS = { keys: keysTable, filter: filterTable, options: optionsTable };

/** README.md and every docs/*.md: the files that may hold tables. */
function docFiles() {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join(root, 'docs', f));
  return [path.join(root, 'README.md'), ...docs];
}

const MARKER = /(<!-- BEGIN generated: (\w+)[^>]*-->\n)(?:[\s\S]*?\n)?(<!-- END generated: \2 -->)/g;

/** Every file with its tables filled in: [{ file, before, after, tables }]. */
export async function renderDocs() {
  const cache = new Map();
  const results = [];
  for (const file of docFiles()) {
    const before = fs.readFileSync(file, 'utf8');
    const names = [...before.matchAll(MARKER)].map((m) => m[2]);
    for (const name of names) {
      if (!GENERATORS[name]) throw new Error(`${path.relative(root, file)}: no generator for table "${name}" (known: ${Object.keys(GENERATORS).join(', ')})`);
      if (!cache.has(name)) cache.set(name, await GENERATORS[name]());
    }
    const after = before.replace(MARKER, (_m, open, name, close) => `${open}${cache.get(name)}\n${close}`);
    results.push({ file, before, after, tables: names });
  }
  return results;
}

async function main() {
  const check = process.argv.includes('--check');
  if (!fs.existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` first');
  const results = await renderDocs();
  const stale = [];
  for (const r of results) {
    if (r.before === r.after) continue;
    stale.push(`${path.relative(root, r.file)} (${r.tables.join(', ')})`);
    if (!check) fs.writeFileSync(r.file, r.after);
  }
  const found = results.flatMap((r) => r.tables);
  for (const name of Object.keys(GENERATORS)) if (!found.includes(name)) throw new Error(`no file holds the "${name}" table`);
  if (check && stale.length) {
    console.error(`docs-tables: stale tables in ${stale.join('; ')}: run \`npm run build && node scripts/docs-tables.mjs\` and commit`);
    process.exit(1);
  }
  console.log(stale.length ? `docs-tables: rewrote ${stale.join('; ')}` : 'docs-tables: every table is up to date');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`docs-tables: ${error.message}`);
    process.exit(1);
  });
}
