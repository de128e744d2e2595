import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../llm/client.ts';
import { compact } from './tool-loop.ts';

describe('compact', () => {
  it('shortens only tool results older than the most recent ones', () => {
    const big = 'x'.repeat(5000);
    const msgs: ChatMessage[] = [{ role: 'user', content: big }];
    for (let i = 0; i < 10; i++) msgs.push({ role: 'tool', tool_call_id: `c${i}`, content: `${i}${big}` });
    const out = compact(msgs);
    expect(out[0]).toBe(msgs[0]);
    expect((out[1]!.content as string).length).toBeLessThan(1600);
    expect((out[2]!.content as string).length).toBeLessThan(1600);
    expect(out.slice(3)).toEqual(msgs.slice(3));
    expect((msgs[1]!.content as string).length).toBe(5001); // the loop's own history is untouched
  });
});
