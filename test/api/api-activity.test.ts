import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ApiActivity } from '../../src/api-activity.js';

describe('ApiActivity', () => {
  it('is busy from a request until its response closes, for every request', () => {
    const activity = new ApiActivity();
    expect(activity.busy).toBe(false);
    const a = new EventEmitter() as unknown as ServerResponse;
    const b = new EventEmitter() as unknown as ServerResponse;
    activity.track(a);
    activity.track(b);
    expect(activity.busy).toBe(true);
    a.emit('close');
    expect(activity.busy).toBe(true);
    b.emit('close');
    b.emit('close'); // counted once
    expect(activity.busy).toBe(false);
  });
});
