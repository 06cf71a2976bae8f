/**
 * The `sgflow` command's arguments: one entry point for every role (offline compiler and tracer, API
 * server, agent, the all-in-one `up`). Each subcommand lives in its own module; this file
 * only parses arguments and turns every user error (a bad flag value, coded errors of the
 * commands) into one message on stderr and exit status 2.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';

import { DEFAULT_METRICS, DEFAULT_OVSDB, runAgentCommand } from '../agent/command.js';
import { runUpCommand } from '../agent/up.js';
import {
  DEFAULT_QUOTAS,
  QUOTA_RESOURCES,
  isQuotaResource,
  parseQuotaLimit,
  startServer,
  type Quotas,
} from '../api/index.js';
import { Table, compile } from '../compiler/index.js';
import { SgflowError } from '../model/errors.js';
import { normalizePolicy } from '../model/policy.js';
import { FlowError } from '../openflow/errors.js';
import { ENFORCEMENT_MODES, type EnforcementMode } from '../model/types.js';
import { runCompile } from './compile.js';
import { runServer } from './server.js';
import { runTrace } from './trace.js';

/** OpenFlow's last table a flow may go in (255 means "all tables"). */
const LAST_TABLE = 254;
/** The pipeline's tables are base+0 .. base+this (docs/pipeline.md). */
const LAST_OFFSET = Math.max(...Object.values(Table));
/** The largest base table: the pipeline's last table must still be a table. */
export const MAX_BASE_TABLE = LAST_TABLE - LAST_OFFSET;

function tableNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > MAX_BASE_TABLE) {
    throw new InvalidArgumentError(
      `must be a table number from 0 to ${MAX_BASE_TABLE} (the pipeline uses ${LAST_OFFSET + 1} tables from it, and ${LAST_TABLE} is the last table).`,
    );
  }
  return n;
}

function authKind(value: string): 'noauth' | 'token' {
  if (value !== 'noauth' && value !== 'token') {
    throw new InvalidArgumentError('must be noauth or token.');
  }
  return value;
}

/**
 * The modes the compiler implements today. It is asked (compiling an empty policy) rather
 * than told, so this list cannot drift from what it really accepts.
 */
function compilerAccepts(mode: EnforcementMode): boolean {
  const empty = normalizePolicy({
    networks: [],
    ports: [],
    security_groups: [],
    security_group_rules: [],
    address_groups: [],
  });
  try {
    compile({ policy: empty, localPorts: [], options: { mode } });
    return true;
  } catch (e) {
    if (e instanceof SgflowError && e.code === 'MODE_NOT_SUPPORTED') return false;
    throw e;
  }
}

const AVAILABLE_MODES = ENFORCEMENT_MODES.filter(compilerAccepts);
const MODE_HELP = `enforcement mode: ${ENFORCEMENT_MODES.join(', ')} (available today: ${AVAILABLE_MODES.join(', ')})`;

function mode(value: string): EnforcementMode {
  if (!(ENFORCEMENT_MODES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${ENFORCEMENT_MODES.join(', ')}.`);
  }
  if (!(AVAILABLE_MODES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      `${value} is not available yet; available today: ${AVAILABLE_MODES.join(', ')}.`,
    );
  }
  return value as EnforcementMode;
}

/** `--quota resource=limit`, repeatable: the server's default quotas. */
function quota(value: string, previous: Partial<Quotas> | undefined): Partial<Quotas> {
  const m = /^([a-z_]+)=(.*)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected resource=limit, e.g. security_group_rule=200.');
  const [, name, limit] = m as unknown as [string, string, string];
  if (!isQuotaResource(name)) {
    throw new InvalidArgumentError(
      `${name} has no quota; quota resources: ${QUOTA_RESOURCES.join(', ')}.`,
    );
  }
  try {
    return { ...previous, [name]: parseQuotaLimit(limit, name) };
  } catch (e) {
    if (e instanceof SgflowError) throw new InvalidArgumentError(`${String(e.params['reason'])}.`);
    throw e;
  }
}

const BASE_TABLE_HELP = `number of the first table sgflow uses, 0 to ${MAX_BASE_TABLE} (it uses ${LAST_OFFSET + 1})`;

const QUOTA_HELP =
  'default quota of every project without its own, resource=limit (repeatable; -1 = unlimited; ' +
  `Neutron's defaults: ${QUOTA_RESOURCES.map((r) => `${r}=${DEFAULT_QUOTAS[r]}`).join(', ')})`;

export function buildProgram(): Command {
  const program = new Command('sgflow')
    .description('Cloud security groups enforced by OpenFlow tables in Open vSwitch.')
    .showHelpAfterError('(add --help for usage)')
    // Subcommands inherit both: a usage error says `sgflow: error: ...` and exits 2 (main).
    .configureOutput({ outputError: (str, write) => write(`sgflow: ${str}`) })
    .exitOverride();

  program
    .command('compile')
    .description(
      'Compile a policy file into the flows of this host, one per line, in the syntax\n' +
        '`ovs-ofctl -O OpenFlow15 --bundle replace-flows BRIDGE -` installs.',
    )
    .requiredOption('--policy <file>', 'policy file (JSON, docs/policy-file.md)')
    .option('--mode <mode>', MODE_HELP, mode, 'conntrack')
    .option('--base-table <n>', BASE_TABLE_HELP, tableNumber, 0)
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
    .option('--mode <mode>', MODE_HELP, mode, 'conntrack')
    .option('--base-table <n>', BASE_TABLE_HELP, tableNumber, 0)
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
    .option('--db <file>', 'SQLite database file (created when missing)', 'sgflow.db')
    .option('--listen <addr>', 'host:port, :port or [v6]:port to listen on', '127.0.0.1:9696')
    .option('--auth <kind>', 'noauth (local admin) or token', authKind, 'noauth')
    .option('--tokens <file>', 'tokens file for --auth token')
    .option('--quota <resource=limit>', QUOTA_HELP, quota)
    .action(
      async (opts: {
        db: string;
        listen: string;
        auth: string;
        tokens?: string;
        quota?: Partial<Quotas>;
      }) => {
        await runServer(opts);
      },
    );

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
    .option('--mode <mode>', MODE_HELP, mode, 'conntrack')
    .option('--base-table <n>', BASE_TABLE_HELP, tableNumber, 0)
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
    .option('--mode <mode>', MODE_HELP, mode, 'conntrack')
    .option('--base-table <n>', BASE_TABLE_HELP, tableNumber, 0)
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
    if (e instanceof CommanderError) {
      // commander has printed its message (or the help); a usage error exits 2, help 0.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof SgflowError || e instanceof FlowError) {
      process.stderr.write(`sgflow: error: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
