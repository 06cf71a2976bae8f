/**
 * The layer table of DESIGN.md §3 is a lint rule: prove the rule catches each kind of
 * breach (a forbidden layer, node:* in a pure layer, the clock, randomness) and lets the
 * allowed imports through, using the project's own eslint configuration.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// Only the restriction rules, without type information: the probes are not files on disk.
const eslint = new ESLint({
  cwd: new URL('../..', import.meta.url).pathname,
  ruleFilter: ({ ruleId }) => ruleId.startsWith('no-restricted'),
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId?.startsWith('no-restricted') === true)
    .map((m) => m.message);
}

describe('the layer rule', () => {
  it('forbids model importing any other layer', async () => {
    const p = await problems(
      'src/model/probe.ts',
      "export { compile } from '../compiler/index.js';\n",
    );
    expect(p.join('\n')).toMatch(/model may import only nothing of ours/);
  });

  it('forbids the compiler importing the api, the store and the switch connection', async () => {
    const code =
      "export { startServer } from '../api/index.js';\n" +
      "export type { Store } from '../store/index.js';\n" +
      "export { OpenFlowConnection } from '../openflow/connection.js';\n";
    const p = await problems('src/compiler/probe.ts', code);
    expect(p).toHaveLength(3);
  });

  it('keeps pure layers free of node:*, the clock and randomness', async () => {
    const code =
      "import { readFileSync } from 'node:fs';\n" +
      'export const x = [readFileSync, Math.random(), Date.now(), new Date()];\n';
    for (const layer of ['model', 'semantics', 'openflow', 'compiler', 'sim']) {
      expect(await problems(`src/${layer}/probe.ts`, code)).toHaveLength(4);
    }
  });

  it('lets the switch connection do I/O and the agent import every layer below it', async () => {
    expect(
      await problems(
        'src/openflow/connection.ts',
        "import net from 'node:net';\nexport const n = net;\n",
      ),
    ).toEqual([]);
    const agent =
      "export { compile } from '../compiler/index.js';\n" +
      "export { simulate } from '../sim/index.js';\n" +
      "export type { Store } from '../store/index.js';\n";
    expect(await problems('src/agent/probe.ts', agent)).toEqual([]);
  });

  it('forbids the api importing the agent', async () => {
    const p = await problems('src/api/probe.ts', "export * from '../agent/index.js';\n");
    expect(p.join('\n')).toMatch(/api may import only model, store/);
  });
});
