/**
 * The reference semantics: `judge` (one port, one direction, one packet) and `World` (a whole
 * bridge with its own connection state). Clarity over speed: this is the spec in code.
 */
export {
  judge,
  judgedTuple,
  opposite,
  tupleOfPacket,
  type ConnContext,
  type Judgement,
} from './judge.js';
export { ruleMatches, rulesMatching, remoteGroupCidrs, type JudgedTuple } from './rules.js';
export {
  egressPortSecurity,
  ingressPortSecurity,
  isBoundSource,
  portMacs,
  type PortSecurityVerdict,
} from './port-security.js';
export { ConnTable, type ConnKey, type ConnLookup, type Connection } from './conntrack.js';
export { World, type Delivery, type LocalPort, type WorldOptions } from './world.js';
