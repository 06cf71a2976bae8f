/**
 * The README's examples stay true: the `sgflow compile` and `sgflow trace` transcripts it
 * shows are what the commands print today (lines elided with `...` in the README are skipped).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

/** The README's console blocks: the command after `$ ` and the lines it shows. */
function transcripts(): { command: string; shown: string[] }[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const out: { command: string; shown: string[] }[] = [];
  for (const block of readme.matchAll(/```console\n([\s\S]*?)```/g)) {
    let current: { command: string; shown: string[] } | undefined;
    for (const line of block[1]!.split('\n')) {
      if (line.startsWith('$ ')) {
        current = { command: line.slice(2), shown: [] };
        out.push(current);
      } else if (current && line.trim() !== '' && line.trim() !== '...') {
        current.shown.push(line);
      }
    }
  }
  return out.filter((t) => t.command.startsWith('./bin/sgflow '));
}

describe('README transcripts', () => {
  const list = transcripts();

  it('has the compile and trace examples', () => {
    expect(list.map((t) => t.command.split(' ')[1])).toEqual(['compile', 'trace']);
  });

  for (const t of list) {
    it(`${t.command} prints what the README shows`, async () => {
      const argv = t.command
        .replace(/ > \S+$/, '')
        .match(/'[^']*'|\S+/g)!
        .slice(1);
      const args = argv.map((a) => a.replace(/^'(.*)'$/, '$1'));
      const r = await run(join(ROOT, 'bin', 'sgflow'), args, { cwd: ROOT, maxBuffer: 1 << 24 });
      // With stdout redirected, the README shows what remains on the terminal: stderr.
      const printed = (t.command.includes(' > ') ? r.stderr : r.stdout).split('\n');
      let at = 0;
      for (const line of t.shown) {
        const i = printed.indexOf(line, at);
        expect(i, `README line not printed (in order): ${line}`).toBeGreaterThanOrEqual(0);
        at = i + 1;
      }
    });
  }
});
