/**
 * The `sgflow` command's arguments: one entry point for every role (offline compiler and tracer, API
 * server, agent, the all-in-one `up`). Each subcommand lives in its own module; this file
 * only parses arguments and turns coded errors into a clear message and exit status 2.
 */
import { Command, InvalidArgumentError } from 'commander';

import { DEFAULT_METRICS, DEFAULT_OVSDB, runAgentCommand } from '../agent/command.js';
import { runUpCommand } from '../agent/up.js';
import { startServer } from '../api/index.js';
import { SgflowError } from '../model/errors.js';
import { FlowError } from '../openflow/errors.js';
import { ENFORCEMENT_MODES, type EnforcementMode } from '../model/types.js';
import { runCompile } from './compile.js';
import { runServer } from './server.js';
import { runTrace } from './trace.js';

function tableNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 254) {
    throw new InvalidArgumentError('must be a table number from 0 to 254.');
  }
  return n;
}

function authKind(value: string): 'noauth' | 'token' {
  if (value !== 'noauth' && value !== 'token') {
    throw new InvalidArgumentError('must be noauth or token.');
  }
  return value;
}

function mode(value: string): EnforcementMode {
  if (!(ENFORCEMENT_MODES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${ENFORCEMENT_MODES.join(', ')}.`);
  }
  return value as EnforcementMode;
}

export function buildProgram(): Command {
  const program = new Command('sgflow')
    .description('Cloud security groups enforced by OpenFlow tables in Open vSwitch.')
    .showHelpAfterError();

  program
    .command('compile')
    .description(
      'Compile a policy file into the flows of this host, one per line, in the syntax\n' +
        '`ovs-ofctl -O OpenFlow15 --bundle replace-flows BRIDGE -` installs.',
    )
    .requiredOption('--policy <file>', 'policy file (JSON, docs/policy-file.md)')
    .option('--mode <mode>', `enforcement mode: ${ENFORCEMENT_MODES.join(', ')}`, mode, 'conntrack')
    .option('--base-table <n>', 'number of the first table sgflow uses', tableNumber, 0)
    .option('--stats', 'print flow counts per table to stderr')
    .action(
      (opts: { policy: string; mode: EnforcementMode; baseTable: number; stats?: boolean }) => {
        runCompile(opts);
      },
    );

  program
    .command('trace')
    .description(
      'Trace a packet sent by a port through the compiled tables (simulated), print the path,\n' +
        'the verdict and the security-group rule behind it, beside the reference verdict.',
    )
    .requiredOption('--policy <file>', 'policy file (JSON, docs/policy-file.md)')
    .requiredOption('--port <id>', 'id of the local port the packet comes from')
    .requiredOption(
      '--packet <fields>',
      "packet in ovs-ofctl match syntax, e.g. 'tcp,nw_dst=10.1.0.12,tp_dst=80' (unset fields default from the port)",
    )
    .option('--mode <mode>', `enforcement mode: ${ENFORCEMENT_MODES.join(', ')}`, mode, 'conntrack')
    .option('--base-table <n>', 'number of the first table sgflow uses', tableNumber, 0)
    .action(
      (opts: {
        policy: string;
        port: string;
        packet: string;
        mode: EnforcementMode;
        baseTable: number;
      }) => {
        runTrace(opts);
      },
    );

  program
    .command('server')
    .description('Serve the Neutron v2.0 security-group API over an embedded SQLite store.')
    .option('--db <file>', 'SQLite database file', 'sgflow.db')
    .option('--listen <addr>', 'address:port to listen on', '127.0.0.1:9696')
    .option('--auth <kind>', 'noauth (local admin) or token', authKind, 'noauth')
    .option('--tokens <file>', 'tokens file for --auth token')
    .action(async (opts: { db: string; listen: string; auth: string; tokens?: string }) => {
      await runServer(opts);
    });

  program
    .command('agent')
    .description(
      'Enforce the security groups of the store on one Open vSwitch bridge: follow the store and ' +
        "the bridge's interfaces (iface-id), compile, and send each difference as one atomic bundle.",
    )
    .option('--bridge <name>', 'integration bridge', 'br-int')
    .option('--ovsdb <remote>', 'OVSDB remote (unix:PATH or tcp:HOST:PORT)', DEFAULT_OVSDB)
    .option(
      '--openflow <target>',
      "the bridge's OpenFlow target (default: unix:<ovsdb socket dir>/<bridge>.mgmt)",
    )
    .requiredOption('--store <addr>', 'store address: sqlite:FILE')
    .option('--metrics <addr>', 'host:port serving /metrics and /healthz, or off', DEFAULT_METRICS)
    .option('--mode <mode>', `enforcement mode: ${ENFORCEMENT_MODES.join(', ')}`, mode, 'conntrack')
    .option('--base-table <n>', 'number of the first table sgflow uses', tableNumber, 0)
    .option('--uplink <iface>', 'bridge interface that leads to other hosts')
    .option(
      '--openflow-driver <driver>',
      'native (OpenFlow connection) or ovs-ofctl (default native; env SGFLOW_OPENFLOW_DRIVER)',
    )
    .action(
      async (opts: {
        bridge: string;
        ovsdb: string;
        openflow?: string;
        store: string;
        metrics: string;
        mode: EnforcementMode;
        baseTable: number;
        uplink?: string;
        openflowDriver?: string;
      }) => {
        await runAgentCommand(opts);
      },
    );

  program
    .command('up')
    .description(
      'Run everything in one process: the API over an embedded SQLite store and the agent. ' +
        'With --sandbox: a private userspace OVS with two demo VMs (namespaces) and a demo policy; ' +
        'prints what to try; Ctrl-C removes it all.',
    )
    .option(
      '--db <file>',
      'SQLite database file (default sgflow.db; with --sandbox a throw-away one)',
    )
    .option('--listen <addr>', 'API address:port', '127.0.0.1:9696')
    .option('--metrics <addr>', 'host:port serving /metrics and /healthz, or off', DEFAULT_METRICS)
    .option('--bridge <name>', 'integration bridge', 'br-int')
    .option('--ovsdb <remote>', 'OVSDB remote (ignored with --sandbox)', DEFAULT_OVSDB)
    .option('--openflow <target>', "the bridge's OpenFlow target (ignored with --sandbox)")
    .option('--mode <mode>', `enforcement mode: ${ENFORCEMENT_MODES.join(', ')}`, mode, 'conntrack')
    .option('--base-table <n>', 'number of the first table sgflow uses', tableNumber, 0)
    .option('--sandbox', 'start a private OVS with two demo VMs and a demo policy')
    .action(
      async (opts: {
        db?: string;
        listen: string;
        metrics: string;
        bridge: string;
        ovsdb: string;
        openflow?: string;
        mode: EnforcementMode;
        baseTable: number;
        sandbox?: boolean;
      }) => {
        await runUpCommand(opts, (store, listen) =>
          startServer({ store, listen, auth: { mode: 'noauth' }, logger: false }),
        );
      },
    );

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof SgflowError || e instanceof FlowError) {
      process.stderr.write(`sgflow: error: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
