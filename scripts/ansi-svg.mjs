// A terminal screen as tmux prints it (`capture-pane -e -p`: text with SGR colour codes) →
// a grid of styled cells → an SVG of monospace text. No browser: the README's pictures are
// made from what the real TUI drew, and stay text (diffable, searchable, small).

const CELL_WIDTH = 8.4;
const LINE_HEIGHT = 17;
const FONT_SIZE = 14;
const PAD = 12;

// a dark theme (xterm's palette, softened): 0-7 normal, 8-15 bright
const PALETTE = [
  '#1e1e1e',
  '#e05561',
  '#8cc265',
  '#d18f52',
  '#3e78c4',
  '#c162de',
  '#42b3c2',
  '#d7dae0',
  '#5c6370',
  '#ff616e',
  '#a5e075',
  '#f0a45d',
  '#4dc4ff',
  '#de73ff',
  '#4cd1e0',
  '#ffffff',
];
const DEFAULT_FG = '#d7dae0';
const DEFAULT_BG = '#1e1e1e';

function color256(n) {
  if (n < 16) return PALETTE[n];
  if (n < 232) {
    const v = [0, 95, 135, 175, 215, 255];
    const i = n - 16;
    return rgb(v[Math.floor(i / 36)], v[Math.floor(i / 6) % 6], v[i % 6]);
  }
  const g = 8 + (n - 232) * 10;
  return rgb(g, g, g);
}

const rgb = (r, g, b) => `#${[r, g, b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;

const PLAIN = Object.freeze({ fg: undefined, bg: undefined, bold: false, dim: false, italic: false, underline: false, inverse: false });

/** Applies one SGR sequence's parameters to a style. */
function applySgr(style, params) {
  const s = { ...style };
  const p = params.length ? params : [0];
  for (let i = 0; i < p.length; i++) {
    const n = p[i];
    if (n === 0) Object.assign(s, PLAIN);
    else if (n === 1) s.bold = true;
    else if (n === 2) s.dim = true;
    else if (n === 3) s.italic = true;
    else if (n === 4) s.underline = true;
    else if (n === 7) s.inverse = true;
    else if (n === 22) s.bold = s.dim = false;
    else if (n === 23) s.italic = false;
    else if (n === 24) s.underline = false;
    else if (n === 27) s.inverse = false;
    else if (n >= 30 && n <= 37) s.fg = PALETTE[n - 30];
    else if (n === 39) s.fg = undefined;
    else if (n >= 40 && n <= 47) s.bg = PALETTE[n - 40];
    else if (n === 49) s.bg = undefined;
    else if (n >= 90 && n <= 97) s.fg = PALETTE[n - 90 + 8];
    else if (n >= 100 && n <= 107) s.bg = PALETTE[n - 100 + 8];
    else if (n === 38 || n === 48) {
      let c;
      if (p[i + 1] === 5) {
        c = color256(p[i + 2] ?? 0);
        i += 2;
      } else if (p[i + 1] === 2) {
        c = rgb(p[i + 2] ?? 0, p[i + 3] ?? 0, p[i + 4] ?? 0);
        i += 4;
      }
      if (n === 38) s.fg = c;
      else s.bg = c;
    }
  }
  return s;
}

/** `capture-pane -e -p` output → rows of cells `{ ch, style }`, `height` rows of `width` cells. */
export function parseAnsiScreen(text, width, height) {
  const rows = [];
  let style = PLAIN;
  for (const line of text.replace(/\n$/, '').split('\n').slice(0, height)) {
    const cells = [];
    for (let i = 0; i < line.length; ) {
      if (line[i] === '\x1b') {
        const m = /^\x1b\[([0-9;:]*)([A-Za-z])/.exec(line.slice(i));
        if (m) {
          if (m[2] === 'm') style = applySgr(style, m[1] === '' ? [] : m[1].split(/[;:]/).map(Number));
          i += m[0].length;
          continue;
        }
      }
      const ch = String.fromCodePoint(line.codePointAt(i));
      i += ch.length;
      cells.push({ ch, style });
    }
    while (cells.length < width) cells.push({ ch: ' ', style: PLAIN });
    rows.push(cells.slice(0, width));
  }
  while (rows.length < height) rows.push(Array.from({ length: width }, () => ({ ch: ' ', style: PLAIN })));
  return rows;
}

export const rowText = (row) => row.map((c) => c.ch).join('');

/**
 * Replaces `pattern` in every row by `replace(match)`, keeping the row's width: the cells
 * replaced take the style of the match's first cell, and the difference in length is made
 * up in the next run of two or more spaces after it, so right-aligned columns stay aligned.
 */
export function maskRows(rows, pattern, replace) {
  return rows.map((row) => {
    let cells = row;
    const width = row.length;
    const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
    let from = 0;
    for (;;) {
      re.lastIndex = from;
      const m = re.exec(rowText(cells));
      if (!m) break;
      const text = replace(m[0], ...m.slice(1));
      const style = cells[m.index].style;
      const inserted = [...text].map((ch) => ({ ch, style }));
      cells = [...cells.slice(0, m.index), ...inserted, ...cells.slice(m.index + m[0].length)];
      const end = m.index + inserted.length;
      let delta = inserted.length - m[0].length;
      const gap = rowText(cells).indexOf('  ', end);
      if (delta > 0 && gap >= 0) {
        // remove spaces from the gap (keeping at least one)
        let n = 0;
        while (n < delta && cells[gap + n + 1]?.ch === ' ') n++;
        cells = [...cells.slice(0, gap), ...cells.slice(gap + n)];
        delta -= n;
      } else if (delta < 0 && gap >= 0) {
        cells = [...cells.slice(0, gap), ...Array.from({ length: -delta }, () => ({ ch: ' ', style: cells[gap].style })), ...cells.slice(gap)];
        delta = 0;
      }
      while (cells.length < width) cells.push({ ch: ' ', style: PLAIN });
      cells = cells.slice(0, width);
      from = end;
      if (m[0].length === 0) from++;
    }
    return cells;
  });
}

const escapeXml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const sameStyle = (a, b) =>
  a.fg === b.fg && a.bg === b.bg && a.bold === b.bold && a.dim === b.dim && a.italic === b.italic && a.underline === b.underline && a.inverse === b.inverse;
const fmt = (n) => String(Math.round(n * 100) / 100);

/** Rows of cells → an SVG document: one <text> per row, one <tspan> per run of one style, placed by column. */
export function screenToSvg(rows, { title = 'amqp-spy' } = {}) {
  const width = rows[0]?.length ?? 0;
  const w = PAD * 2 + width * CELL_WIDTH;
  const h = PAD * 2 + rows.length * LINE_HEIGHT;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${fmt(w)}" height="${fmt(h)}" viewBox="0 0 ${fmt(w)} ${fmt(h)}" role="img">`);
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect width="100%" height="100%" rx="6" fill="${DEFAULT_BG}"/>`);
  out.push(
    `<g font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace" font-size="${FONT_SIZE}" xml:space="preserve" fill="${DEFAULT_FG}">`,
  );
  rows.forEach((row, r) => {
    const y = PAD + r * LINE_HEIGHT;
    const runs = [];
    for (let c = 0; c < row.length; c++) {
      const cell = row[c];
      const last = runs[runs.length - 1];
      if (last && sameStyle(last.style, cell.style)) last.text += cell.ch;
      else runs.push({ col: c, style: cell.style, text: cell.ch });
    }
    const spans = [];
    for (const run of runs) {
      const fg = run.style.inverse ? (run.style.bg ?? DEFAULT_BG) : run.style.fg;
      const bg = run.style.inverse ? (run.style.fg ?? DEFAULT_FG) : run.style.bg;
      const len = [...run.text].length;
      if (bg) out.push(`<rect x="${fmt(PAD + run.col * CELL_WIDTH)}" y="${fmt(y)}" width="${fmt(len * CELL_WIDTH)}" height="${LINE_HEIGHT}" fill="${bg}"/>`);
      if (run.text.trim() === '' && !run.style.underline) continue;
      const attrs = [`x="${fmt(PAD + run.col * CELL_WIDTH)}"`];
      if (fg) attrs.push(`fill="${fg}"`);
      if (run.style.bold) attrs.push('font-weight="bold"');
      if (run.style.dim) attrs.push('opacity="0.6"');
      if (run.style.italic) attrs.push('font-style="italic"');
      if (run.style.underline) attrs.push('text-decoration="underline"');
      spans.push(`<tspan ${attrs.join(' ')}>${escapeXml(run.text.replace(/\s+$/, ''))}</tspan>`);
    }
    if (spans.length) out.push(`<text y="${fmt(y + LINE_HEIGHT - 4)}">${spans.join('')}</text>`);
  });
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}

/**
 * An SVG made by screenToSvg → its rows as text, each run marked with its column and colour
 * (`12:#e05561:channel.close`): what the drift check compares.
 */
export function svgRuns(svg) {
  const rows = [];
  for (const m of svg.matchAll(/<text y="([\d.]+)">(.*?)<\/text>/g)) {
    const runs = [...m[2].matchAll(/<tspan x="([\d.]+)"([^>]*)>(.*?)<\/tspan>/g)].map((t) => {
      const col = Math.round((Number(t[1]) - PAD) / CELL_WIDTH);
      const fill = /fill="([^"]+)"/.exec(t[2])?.[1] ?? '';
      const text = t[3].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      return `${col}:${fill}${/bold/.test(t[2]) ? ':b' : ''}:${text}`;
    });
    rows.push(runs.join(' | '));
  }
  return rows;
}
