// Colours shared by the components, so a direction looks the same everywhere.

import type { Direction } from '../../events.js';

export const DIRECTION_COLORS: Record<Direction, string> = { c2s: 'cyan', s2c: 'magenta' };
