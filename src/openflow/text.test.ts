import { describe, expect, it } from 'vitest';
import {
  formatFlow,
  formatMatch,
  parseFlow,
  parseMatch,
  formatActions,
  parseActions,
} from './text.js';
import { FlowError } from './errors.js';

// Match and action texts below are exactly what `ovs-ofctl ofp-print` printed for them
// (OVS 3.1, OpenFlow 1.5), so formatting our parse of them must give them back unchanged.
const OVS_MATCHES = [
  'ct_state=-new+est-rel+trk,ct_zone=3,ct_mark=0x5/0xf,ct_label=0x1/0xff,ct_nw_src=1.2.3.0/24,ct_nw_dst=1.2.3.4,ct_nw_proto=6,ct_tp_src=0x0/0xfff0,ct_tp_dst=80,tcp,reg0=0x5,tun_id=0x5/0xff,metadata=0x7,in_port=LOCAL,dl_vlan=5,dl_src=00:11:22:00:00:00/ff:ff:ff:00:00:00,nw_tos=8,nw_ttl=5,nw_frag=first,tp_src=3,tp_dst=0x50/0xfff0,tcp_flags=+syn-ack',
  'ct_state=-inv+trk,ct_ipv6_src=fe80::/64,ipv6,ipv6_src=2001::1/ffff::ffff,ipv6_label=0x12345,nw_proto=99',
  'icmp6,icmp_type=136,nd_target=fe80::1,nd_tll=00:00:00:00:00:01',
  'arp,arp_spa=1.1.1.0/24,arp_tpa=2.2.2.2,arp_op=2,arp_sha=01:02:03:04:05:06,arp_tha=00:00:00:00:00:00',
  'ct_state=new|trk,udp6,tp_dst=547',
  'conj_id=7,icmp,vlan_tci=0x0000/0x1fff,icmp_type=8,icmp_code=0',
];

const OVS_ACTIONS = [
  'set_field:0x1/0xf->reg0,set_field:0x5->reg1,set_field:0x5->reg2,move:NXM_OF_IP_SRC[]->NXM_NX_REG3[],output:3,IN_PORT,NORMAL,LOCAL,CONTROLLER:128,controller(max_len=128,userdata=01.02),CONTROLLER:65535',
  'ct(commit,table=2,zone=NXM_NX_REG5[0..15],exec(set_field:0x1->ct_mark)),ct(zone=5),ct_clear,resubmit(,9),resubmit:3,goto_table:5',
  'learn(table=1,send_flow_rem,delete_learned,limit=10,NXM_NX_REG0[0..7]=NXM_NX_REG1[8..15],reg2=0x5,NXM_NX_REG3[3]=0x1)',
  'set_field:1.2.3.4->ip_src,set_field:00:11:22:33:44:55->eth_dst,ct(commit,exec(set_field:0x1/0x1->ct_mark,set_field:0x5->ct_label))',
];

describe('ovs-ofctl text', () => {
  it.each(OVS_MATCHES)('match %s formats back as OVS printed it', (text) => {
    expect(formatMatch(parseMatch(text))).toBe(text);
  });

  it.each(OVS_ACTIONS)('actions %s format back as OVS printed them', (text) => {
    expect(formatActions(parseActions(text))).toBe(text);
  });

  it('formats a flow add-flows accepts and parses it back to the same flow', () => {
    const line =
      'table=3,priority=100,cookie=0x1234,idle_timeout=10,send_flow_rem,ct_state=-inv+trk,ct_nw_src=10.0.0.0/8,ip,reg5=0x1 actions=conjunction(12,1/3)';
    const flow = parseFlow(line);
    expect(flow.table).toBe(3);
    expect(flow.priority).toBe(100);
    expect(flow.cookie).toBe(0x1234n);
    expect(flow.match.reg5).toEqual({ value: 1n });
    expect(flow.match.ct_nw_src).toEqual({ value: 0x0a000000n, mask: 0xff000000n });
    expect(flow.actions).toEqual([{ type: 'conjunction', id: 12, clause: 1, nClauses: 3 }]);
    expect(formatFlow(flow)).toBe(line);
  });

  it('reads dump-flows lines, ignoring counters', () => {
    const f = parseFlow(
      ' cookie=0x5, duration=12.345s, table=2, n_packets=7, n_bytes=700, idle_timeout=30, idle_age=3, priority=10,tcp,in_port=1,tp_dst=22 actions=resubmit(,3)',
    );
    expect(f).toMatchObject({ table: 2, priority: 10, cookie: 5n, idleTimeout: 30 });
    expect(f.match).toEqual({
      in_port: { value: 1n },
      eth_type: { value: 0x800n },
      ip_proto: { value: 6n },
      tcp_dst: { value: 22n },
    });
  });

  it('resolves tp_dst and icmp_type by protocol', () => {
    expect(parseMatch('udp6,tp_dst=53').udp_dst).toEqual({ value: 53n });
    expect(parseMatch('sctp,tp_src=9').sctp_src).toEqual({ value: 9n });
    expect(parseMatch('icmp6,icmp_type=135').icmpv6_type).toEqual({ value: 135n });
    expect(parseMatch('arp,nw_src=1.2.3.4').arp_spa).toEqual({ value: 0x01020304n });
  });

  it('rejects a field without its prerequisite, naming the field and what it needs', () => {
    expect(() => parseMatch('tp_dst=80')).toThrow(/tp_dst needs a protocol/);
    try {
      parseMatch('ip,tcp_dst=80');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FlowError);
      expect((e as FlowError).field).toBe('tcp_dst');
      expect((e as FlowError).message).toMatch(/requires tcp/);
    }
    expect(() => parseMatch('ct_nw_src=1.2.3.4')).toThrow(/ct_state/);
  });

  it('rejects unknown actions, listing the supported ones', () => {
    expect(() => parseActions('frobnicate:3')).toThrow(/supported: output/);
    expect(() => parseActions('drop,output:1')).toThrow(/drop/);
  });

  it.each([
    ['frobnicate=3', 'frobnicate', /unknown match field; fields are conj_id, in_port, eth_src/],
    ['ip,nw_src=10.0.0.300', 'ip_src', /cannot parse '10.0.0.300': expected an IPv4 address/],
    ['ip,nw_proto=6/0xf', 'ip_proto', /cannot be masked/],
    ['reg0=0x100000000', 'reg0', /does not fit in 32 bits/],
    ['ip,nw_frag=sometimes', 'ip_frag', /allowed: no, yes, first, later, not_later/],
    ['ip,nw_tos=3', 'nw_tos', /multiple of 4/],
    ['ct_state=+bogus', 'ct_state', /flags are new, est, rel, rpl, inv, trk, snat, dnat/],
    ['in_port=70000', 'in_port', /port number below 65280 or LOCAL/],
  ])('rejects the match %s, naming %s', (text, field, why) => {
    try {
      parseMatch(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FlowError);
      expect((e as FlowError).field).toBe(field);
      expect((e as FlowError).message).toMatch(why);
    }
  });

  it.each([
    ['conjunction(1,4/3)', /need 2 <= n <= 64 and 1 <= k <= n/],
    ['ct(zone=NXM_NX_REG5[0..7])', /16-bit slice/],
    ['load:0x10->NXM_NX_REG0[0..3]', /does not fit in 4 bits/],
    ['move:NXM_NX_REG0[0..3]->NXM_NX_REG1[0..7]', /source has 4 bits, destination 8/],
    ['resubmit(,300)', /0..254/],
    ['controller(reason=bored)', /allowed: no_match, action, invalid_ttl/],
    ['set_field:1->frob', /unknown field 'frob'/],
  ])('rejects the actions %s', (text, why) => {
    expect(() => parseActions(text)).toThrow(why);
  });
});
