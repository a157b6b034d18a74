// The one place that decides how tall and wide every part of the screen is. Components get
// their sizes from here and never do their own arithmetic on the terminal size.

import { rowColumns, type RowColumns } from '../view/event-row.js';

export interface LayoutOptions {
  readonly showDetail: boolean;
}

export interface Layout {
  readonly width: number;
  /** lines drawn in all: one less than the terminal, so ink never clears the screen (flicker) */
  readonly height: number;
  readonly header: number;
  readonly footer: number;
  /** lines between header and footer, for the list+detail, connections or help screen */
  readonly main: number;
  /** the list, its column-title line included */
  readonly list: number;
  /** event rows the list shows */
  readonly listRows: number;
  /** the detail pane, its title line included (0 when hidden) */
  readonly detail: number;
  readonly columns: RowColumns;
}

export const HEADER_LINES = 3;
export const FOOTER_LINES = 1;
export const MIN_WIDTH = 40;
export const MIN_HEIGHT = 10;

export function computeLayout(terminalWidth: number, terminalHeight: number, options: LayoutOptions): Layout {
  const width = Math.max(MIN_WIDTH, terminalWidth);
  const height = Math.max(MIN_HEIGHT, terminalHeight) - 1;
  const main = height - HEADER_LINES - FOOTER_LINES;
  // the list gets a little more than half: rows are what people scan, the detail they read
  const list = options.showDetail ? Math.max(3, Math.ceil(main * 0.5)) : main;
  const detail = main - list;
  return {
    width,
    height,
    header: HEADER_LINES,
    footer: FOOTER_LINES,
    main,
    list,
    listRows: Math.max(1, list - 1),
    detail,
    columns: rowColumns(width),
  };
}

/**
 * The first row shown so the selected row is visible, moving the window as little as
 * possible from where it was (the list does not jump while you move inside it).
 */
export function scrollTop(total: number, selected: number, previousTop: number, rows: number): number {
  if (total <= rows) return 0;
  let top = Math.min(Math.max(previousTop, selected - rows + 1), selected);
  top = Math.max(0, Math.min(top, total - rows));
  return top;
}
