import { describe, expect, it } from 'vitest';

import { identityText, normalizeFlowText } from './ofctl-switch.js';

describe('ovs-ofctl text helpers', () => {
  it('identityText keeps table, priority and match; drops cookie, timeouts and actions', () => {
    expect(
      identityText(
        'table=3,priority=100,cookie=0x3,idle_timeout=5,ct_state=-inv+trk,ip,reg5=0x1 actions=resubmit(,9)',
      ),
    ).toBe('table=3,priority=100,ct_state=-inv+trk,ip,reg5=0x1');
    expect(identityText('table=1 priority=5 actions=drop')).toBe('table=1,priority=5');
  });

  it('a register load and the set_field the switch reports for it read the same', () => {
    const a = 'table=1 priority=90,ip cookie=0x1 actions=load:0x1->NXM_NX_REG0[4],resubmit(,1)';
    const b = 'table=1 priority=90,ip cookie=0x1 actions=set_field:0x10/0x10->reg0,resubmit(,1)';
    expect(normalizeFlowText(a)).toBe(normalizeFlowText(b));
    expect(normalizeFlowText('actions=load:0x3->NXM_NX_REG0[4..5]')).toBe(
      'actions=set_field:0x30/0x30->reg0',
    );
    expect(normalizeFlowText('actions=load:0x7->NXM_NX_REG5[]')).toBe(
      'actions=set_field:0x7->reg5',
    );
    // Different values stay different.
    expect(normalizeFlowText('actions=load:0x1->NXM_NX_REG0[4]')).not.toBe(
      normalizeFlowText('actions=set_field:0/0x10->reg0'),
    );
  });
});
