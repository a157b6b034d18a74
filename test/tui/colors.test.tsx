// Colours need chalk to believe the terminal has them, which it decides when first loaded:
// set FORCE_COLOR before anything imports it.
import { describe, expect, it } from 'vitest';

process.env['FORCE_COLOR'] = '1';
const { render } = await import('ink-testing-library');
const { EventList } = await import('../../src/tui/components/EventList.js');
const { EventStore } = await import('../../src/tui/event-store.js');
const { computeLayout } = await import('../../src/tui/layout.js');
const { sampleConversation } = await import('./conversation.js');

describe('EventList colours', () => {
  it('paints errors red, heartbeats dim and the two directions differently', () => {
    const store = new EventStore();
    for (const e of sampleConversation().events) store.push(e);
    const layout = computeLayout(100, 30, { showDetail: true });
    const { lastFrame, unmount } = render(<EventList store={store} length={store.viewLength()} selectedPosition={0} rows={60} columns={layout.columns} />);
    const lines = (lastFrame() ?? '').split('\n');
    unmount();
    const close = lines.find((l) => l.includes('channel.close') && l.includes('404'))!;
    expect(close).toContain('\x1b[31m');
    const heartbeat = lines.find((l) => l.includes('heartbeat'))!;
    expect(heartbeat).toContain('\x1b[2m');
    const publish = lines.find((l) => l.includes('basic.publish'))!;
    expect(publish).not.toContain('\x1b[31m');
    const c2s = lines.find((l) => l.includes('C→S'))!;
    const s2c = lines.find((l) => l.includes('S→C'))!;
    expect(c2s).toContain('\x1b[36mC→S');
    expect(s2c).toContain('\x1b[35mS→C');
  });
});
